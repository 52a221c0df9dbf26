// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCENGINE_H
#define SYNQ_SYNCENGINE_H

#include <synq/syncerror.h>
#include <synq/syncstatus.h>
#include <synq/synctransport.h>
#include <synq/synq_export.h>
#include <synq/retrypolicy.h>
#include <synq/transaction.h>

#include <QtCore/QObject>
#include <QtCore/QVariantMap>

#include <QtCore/QJsonObject>

#include <functional>
#include <memory>
#include <optional>

namespace Synq {

class SyncEnginePrivate;

class SYNQ_EXPORT SyncEngine : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QString databasePath READ databasePath WRITE setDatabasePath NOTIFY
                       databasePathChanged FINAL)
    Q_PROPERTY(Synq::SyncEngine::Durability durability READ durability WRITE setDurability NOTIFY
                       durabilityChanged FINAL)
    Q_PROPERTY(QVariantMap scope READ scope WRITE setScope NOTIFY scopeChanged FINAL)
    Q_PROPERTY(Synq::SyncStatus *status READ status CONSTANT FINAL)
    Q_PROPERTY(bool ready READ isReady NOTIFY readyChanged FINAL)
    Q_PROPERTY(Synq::SyncTransport *transport READ transport WRITE setTransport NOTIFY
                       transportChanged FINAL)
    Q_PROPERTY(bool autoSync READ autoSync WRITE setAutoSync NOTIFY autoSyncChanged FINAL)
    Q_PROPERTY(int syncInterval READ syncInterval WRITE setSyncInterval NOTIFY
                       syncIntervalChanged FINAL)
    Q_PROPERTY(int maxQueueSize READ maxQueueSize WRITE setMaxQueueSize NOTIFY
                       maxQueueSizeChanged FINAL)
    Q_PROPERTY(Synq::RetryPolicy *retryPolicy READ retryPolicy CONSTANT FINAL)
    Q_PROPERTY(QVariantList relations READ relations WRITE setRelations NOTIFY relationsChanged
                       FINAL)

public:
    enum Durability {
        Normal, // survives an application crash, not a power cut
        Full, // survives a power cut: every commit is synced to disk
    };
    Q_ENUM(Durability)

    // A collection's own way to persist its transactions, instead of the transport: called
    // with the transaction to write (its attempt number is transaction->currentAttempt());
    // call `done` exactly once, on the engine's thread, with no error when the change is
    // persisted, or with the failure (retried when SyncError::isRetryable()).
    using PersistCallback = std::function<void(const Synq::SyncError &error)>;
    using PersistHandler =
            std::function<void(Synq::Transaction *transaction, const PersistCallback &done)>;

    // How pending changes are put back on top of a newly synced state: given the item's
    // synced state (nullopt: none) and its pending mutations in commit order, the state to
    // show (nullopt: hidden). The default applies each mutation's changes in order.
    using MergeFunction = std::function<std::optional<QJsonObject>(
            const std::optional<QJsonObject> &synced, const QList<Synq::MutationRecord> &pending)>;

    // A custom conflict resolution (SyncCollection::Custom): given the local record (empty when
    // the local change removes it), the server's (empty when the server deleted it) and the
    // base record the local change was made on (empty for an insert), the record to send on
    // the server's version — the server's own record lets it stand, an empty one removes the
    // item — or nullopt when it cannot decide: the conflict then waits for the app (Manual).
    // It runs on the engine's thread, and must be pure: the same records, the same answer.
    using ConflictResolver = std::function<std::optional<QJsonObject>(
            const QJsonObject &local, const QJsonObject &server, const QJsonObject &base)>;

    explicit SyncEngine(QObject *parent = nullptr);
    ~SyncEngine() override;

    QString databasePath() const;
    void setDatabasePath(const QString &path);

    Durability durability() const;
    void setDurability(Durability durability);

    QVariantMap scope() const;
    void setScope(const QVariantMap &scope);

    SyncStatus *status() const;

    bool isReady() const;

    SyncTransport *transport() const;
    void setTransport(SyncTransport *transport);
    bool autoSync() const;
    void setAutoSync(bool enabled);
    int syncInterval() const;
    void setSyncInterval(int ms);
    int maxQueueSize() const;
    void setMaxQueueSize(int size);
    RetryPolicy *retryPolicy() const;
    // The relation graph: {from: "collection.field", to: "collection", required: bool} per
    // foreign key (docs/keys-and-relations.md). A bad list is refused with a Validation error.
    QVariantList relations() const;
    void setRelations(const QVariantList &relations);

    // Transactions whose first mutation is in `collection` are persisted by `handler`; an
    // empty handler goes back to the transport.
    void setPersistHandler(const QString &collection, PersistHandler handler);
    // With awaitSync, a transaction of `collection` stays PersistedAwaitingSync after its
    // persist succeeded, until its change comes back through sync.
    void setAwaitSync(const QString &collection, bool await);
    // A custom merge for `collection`; an empty function restores the default.
    void setMergeFunction(const QString &collection, MergeFunction merge);
    bool awaitSync(const QString &collection) const;

    // Starts a sync run now (push the outbox, then pull every collection), or right after
    // the one in progress.
    Q_INVOKABLE void syncNow();
    // Removes the current scope's rows, outbox and cursors (logout). Pending changes of the
    // scope are dropped with it: push them first if they matter.
    Q_INVOKABLE bool clearScope();

    Q_INVOKABLE bool open();
    Q_INVOKABLE void close();

    Q_INVOKABLE Synq::Transaction *transaction(const QString &id);
    // The transactions of the current scope that are not completed, in commit order.
    QList<Transaction *> transactions() const;
    // Every transaction of the current scope this engine holds, in commit order: the ones
    // made since it opened (completed ones included) and the unfinished or failed ones it
    // loaded from the outbox.
    QList<Transaction *> transactionHistory() const;
    // The failed transactions of the current scope (the dead letters), in commit order.
    QList<Transaction *> deadLetters() const;

    // An explicit transaction: stage changes with Transaction::insert()/update()/remove()
    // and commit() them as one unit, or rollback().
    Q_INVOKABLE Synq::Transaction *begin();
    // Dead letters: send a failed transaction again, or give it up for good.
    Q_INVOKABLE bool retry(const QString &transactionId);
    Q_INVOKABLE bool discard(const QString &transactionId);

    // Conflicts waiting for the app (conflictPolicy Manual, or a Custom resolver that could
    // not decide), oldest first: each {conflictId, transactionId, collection, key, local,
    // server, base, serverVersion, detectedAt} (see ConflictModel). They survive a restart.
    Q_INVOKABLE QVariantList conflicts() const;
    // Resolves one: the local change is sent again on the server's version, the server's
    // state stands (the change is dropped), or `merged` is sent on the server's version. False
    // (and errorOccurred) for an unknown id or a merged record that is not a JSON object.
    Q_INVOKABLE bool resolveConflictWithLocal(const QString &conflictId);
    Q_INVOKABLE bool resolveConflictWithServer(const QString &conflictId);
    Q_INVOKABLE bool resolveConflictWith(const QString &conflictId, const QVariant &merged);

    static QString defaultDatabasePath();

Q_SIGNALS:
    void databasePathChanged();
    void durabilityChanged();
    void scopeChanged();
    void readyChanged();
    void transportChanged();
    void autoSyncChanged();
    void syncIntervalChanged();
    void syncStarted();
    void syncFinished(const QVariantMap &report);
    void maxQueueSizeChanged();
    void relationsChanged();
    // The server gave the item key oldKey of collection its own key newKey: the row, the
    // references to it and the outbox use newKey from now on.
    void idRemapped(const QString &collection, const QString &oldKey, const QString &newKey);
    void transactionStateChanged(const QString &id, Synq::Transaction::State state);
    // The event stream for monitoring: a transaction appears, changes in any way
    // (state, attempts, error, queuedBehind), or is removed (discarded, or the scope changed:
    // transactionsReset()).
    void transactionAdded(Synq::Transaction *transaction);
    void transactionChanged(Synq::Transaction *transaction);
    void transactionRemoved(const QString &id);
    void transactionsReset();
    // One entry per lifecycle event: {type, transactionId, state, stateName, at, attempt,
    // error, queuedBehind, retryScheduledFor} — for logs, metrics and debugging tools.
    void transactionEvent(const QVariantMap &event);
    // A conflict now waits for the app (its entry as conflicts() lists it), is resolved, or
    // the list was read anew (the scope changed).
    void conflictAdded(const QVariantMap &conflict);
    void conflictRemoved(const QString &conflictId);
    void conflictsReset();
    void errorOccurred(const Synq::SyncError &error);

protected:
    // For a subclass set up in steps (the QML type): no opening until completeSetup().
    void beginSetup();
    void completeSetup();

private:
    friend class SyncEnginePrivate;
    std::unique_ptr<SyncEnginePrivate> d;
};

} // namespace Synq

#endif
