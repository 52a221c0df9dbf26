// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCSTATUS_H
#define SYNQ_SYNCSTATUS_H

#include <synq/syncerror.h>
#include <synq/synq_export.h>

#include <QtCore/QDateTime>
#include <QtCore/QObject>

namespace Synq {

class SyncEnginePrivate;

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

    bool isOnline() const { return m_online; }
    bool isSyncing() const { return m_syncing; }
    QString phase() const { return m_phase; }
    int pendingCount() const { return m_pendingCount; }
    int failedCount() const { return m_failedCount; }
    int conflictCount() const { return m_conflictCount; }
    QDateTime lastSyncedAt() const { return m_lastSyncedAt; }
    SyncError lastError() const { return m_lastError; }
    double progress() const { return m_progress; }

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
    friend class SyncEngine;
    friend class SyncEnginePrivate;
    explicit SyncStatus(QObject *parent);

    void setPendingCount(int count);
    void setFailedCount(int count);
    void setLastError(const SyncError &error);
    void setLastSyncedAt(const QDateTime &at);
    void setSyncing(bool syncing);
    void setOnline(bool online);

    bool m_online = false;
    bool m_syncing = false;
    QString m_phase = QStringLiteral("idle");
    int m_pendingCount = 0;
    int m_failedCount = 0;
    int m_conflictCount = 0;
    QDateTime m_lastSyncedAt;
    SyncError m_lastError;
    double m_progress = -1;
};

} // namespace Synq

#endif
