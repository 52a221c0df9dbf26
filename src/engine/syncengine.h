// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCENGINE_H
#define SYNQ_SYNCENGINE_H

#include <synq/syncerror.h>
#include <synq/syncstatus.h>
#include <synq/synctransport.h>
#include <synq/synq_export.h>
#include <synq/transaction.h>

#include <QtCore/QObject>
#include <QtCore/QVariantMap>

#include <memory>

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

public:
    enum Durability {
        Normal, // survives an application crash, not a power cut
        Full, // survives a power cut: every commit is synced to disk
    };
    Q_ENUM(Durability)

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
    void transactionStateChanged(const QString &id, Synq::Transaction::State state);
    void errorOccurred(const Synq::SyncError &error);

private:
    friend class SyncEnginePrivate;
    std::unique_ptr<SyncEnginePrivate> d;
};

} // namespace Synq

#endif
