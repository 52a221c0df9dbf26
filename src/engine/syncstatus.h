// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCSTATUS_H
#define SYNQ_SYNCSTATUS_H

#include <synq/syncerror.h>
#include <synq/synq_export.h>

#include <QtCore/QDateTime>
#include <QtCore/QObject>

#include <memory>

namespace Synq {

class SyncStatusPrivate;

class SYNQ_EXPORT SyncStatus : public QObject
{
    Q_OBJECT
    Q_PROPERTY(bool online READ isOnline NOTIFY onlineChanged FINAL)
    Q_PROPERTY(bool syncing READ isSyncing NOTIFY syncingChanged FINAL)
    Q_PROPERTY(QString phase READ phase NOTIFY phaseChanged FINAL)
    Q_PROPERTY(int pendingCount READ pendingCount NOTIFY pendingCountChanged FINAL)
    Q_PROPERTY(int failedCount READ failedCount NOTIFY failedCountChanged FINAL)
    Q_PROPERTY(int conflictCount READ conflictCount NOTIFY conflictCountChanged FINAL)
    Q_PROPERTY(QDateTime lastSyncedAt READ lastSyncedAt NOTIFY lastSyncedAtChanged FINAL)
    Q_PROPERTY(Synq::SyncError lastError READ lastError NOTIFY lastErrorChanged FINAL)
    Q_PROPERTY(double progress READ progress NOTIFY progressChanged FINAL)

public:
    ~SyncStatus() override;

    bool isOnline() const;
    bool isSyncing() const;
    QString phase() const;
    int pendingCount() const;
    int failedCount() const;
    int conflictCount() const;
    QDateTime lastSyncedAt() const;
    SyncError lastError() const;
    double progress() const;

Q_SIGNALS:
    void onlineChanged();
    void syncingChanged();
    void phaseChanged();
    void pendingCountChanged();
    void failedCountChanged();
    void conflictCountChanged();
    void lastSyncedAtChanged();
    void lastErrorChanged();
    void progressChanged();

private:
    friend class SyncStatusPrivate;
    explicit SyncStatus(QObject *parent);

    std::unique_ptr<SyncStatusPrivate> d;
};

} // namespace Synq

#endif
