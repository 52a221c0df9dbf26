// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TRANSACTION_H
#define SYNQ_TRANSACTION_H

#include <synq/records.h>
#include <synq/syncerror.h>
#include <synq/synq_export.h>

#include <QtCore/QDateTime>
#include <QtCore/QObject>
#include <QtCore/QVariantList>

#include <memory>

namespace Synq {

class TransactionPrivate;

class SYNQ_EXPORT Transaction : public QObject
{
    Q_OBJECT
    Q_PROPERTY(QString id READ id CONSTANT FINAL)
    Q_PROPERTY(Synq::Transaction::State state READ state NOTIFY stateChanged FINAL)
    Q_PROPERTY(QString stateName READ stateName NOTIFY stateChanged FINAL)
    Q_PROPERTY(Synq::Transaction::Strategy strategy READ strategy CONSTANT FINAL)
    Q_PROPERTY(QString key READ key CONSTANT FINAL)
    Q_PROPERTY(QStringList collections READ collections CONSTANT FINAL)
    Q_PROPERTY(QVariantList mutations READ mutations NOTIFY mutationsChanged FINAL)
    Q_PROPERTY(int mutationCount READ mutationCount NOTIFY mutationsChanged FINAL)
    Q_PROPERTY(QVariantList attempts READ attempts NOTIFY attemptsChanged FINAL)
    Q_PROPERTY(int currentAttempt READ currentAttempt NOTIFY attemptsChanged FINAL)
    Q_PROPERTY(QString queuedBehind READ queuedBehind NOTIFY queuedBehindChanged FINAL)
    Q_PROPERTY(Synq::SyncError error READ error NOTIFY errorChanged FINAL)
    Q_PROPERTY(QDateTime createdAt READ createdAt CONSTANT FINAL)
    Q_PROPERTY(QDateTime updatedAt READ updatedAt NOTIFY updatedAtChanged FINAL)
    Q_PROPERTY(QDateTime nextRetryAt READ nextRetryAt NOTIFY attemptsChanged FINAL)
    Q_PROPERTY(bool open READ isOpen NOTIFY openChanged FINAL)
    Q_PROPERTY(Synq::Transaction::ConflictOutcome conflictOutcome READ conflictOutcome NOTIFY
                       conflictOutcomeChanged FINAL)

public:
    enum State {
        Queued = int(TransactionState::Queued),
        Pending = int(TransactionState::Pending),
        Persisting = int(TransactionState::Persisting),
        PersistedAwaitingSync = int(TransactionState::PersistedAwaitingSync),
        Completed = int(TransactionState::Completed),
        Failed = int(TransactionState::Failed),
    };
    Q_ENUM(State)

    enum Strategy {
        Ordered = int(StrategyKind::Ordered),
        Parallel = int(StrategyKind::Parallel),
    };
    Q_ENUM(Strategy)

    // What a conflict on push came to (NoConflict: none met it).
    enum ConflictOutcome {
        NoConflict = int(Synq::ConflictOutcome::None),
        AdoptServer = int(Synq::ConflictOutcome::AdoptServer),
        RebaseAndRetry = int(Synq::ConflictOutcome::RebaseAndRetry),
        ManualRequired = int(Synq::ConflictOutcome::ManualRequired),
        Skipped = int(Synq::ConflictOutcome::Skipped),
    };
    Q_ENUM(ConflictOutcome)

    ~Transaction() override;

    QString id() const;
    State state() const;
    QString stateName() const;
    Strategy strategy() const;
    QString key() const;
    QStringList collections() const;
    QVariantList mutations() const;
    int mutationCount() const;
    QVariantList attempts() const;
    int currentAttempt() const;
    QString queuedBehind() const;
    SyncError error() const;
    QDateTime createdAt() const;
    QDateTime updatedAt() const;
    ConflictOutcome conflictOutcome() const;

    QDateTime nextRetryAt() const;
    bool isOpen() const;

    bool isFinished() const;

    // Explicit transactions (SyncEngine::begin()): stage changes, then commit() or rollback().
    // insert() returns the item's key (made for it if it has none); "" when refused.
    Q_INVOKABLE QString insert(const QString &collection, const QVariant &item);
    Q_INVOKABLE bool update(const QString &collection, const QVariant &key,
                            const QVariant &changes);
    Q_INVOKABLE bool remove(const QString &collection, const QVariant &key);
    Q_INVOKABLE bool commit();
    Q_INVOKABLE void rollback();

    // The stored form: everything the outbox knows about this transaction.
    const TransactionRecord &record() const;

Q_SIGNALS:
    void stateChanged();
    void completed();
    void failed(const Synq::SyncError &error);
    void mutationsChanged();
    void attemptsChanged();
    void queuedBehindChanged();
    void errorChanged();
    void updatedAtChanged();
    void openChanged();
    void conflictOutcomeChanged();

private:
    friend class TransactionPrivate;
    explicit Transaction(const TransactionRecord &record, QObject *parent);
    bool stage(bool ok, const SyncError &error);
    void close(const SyncError &error);

    std::unique_ptr<TransactionPrivate> d;
};

} // namespace Synq

#endif
