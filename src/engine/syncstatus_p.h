// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCSTATUS_P_H
#define SYNQ_SYNCSTATUS_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/syncstatus.h>

namespace Synq {

// The values behind a SyncStatus; the engine sets them, each setter emits its change signal.
class SyncStatusPrivate
{
public:
    static SyncStatus *create(QObject *parent) { return new SyncStatus(parent); }
    static SyncStatusPrivate *get(SyncStatus *status) { return status->d.get(); }

    void setPendingCount(int count);
    void setFailedCount(int count);
    void setConflictCount(int count);
    void setLastError(const SyncError &error);
    void setLastSyncedAt(const QDateTime &at);
    void setSyncing(bool syncing);
    void setOnline(bool online);

    SyncStatus *q = nullptr;
    bool online = false;
    bool syncing = false;
    QString phase = QStringLiteral("idle");
    int pendingCount = 0;
    int failedCount = 0;
    int conflictCount = 0;
    QDateTime lastSyncedAt;
    SyncError lastError;
    double progress = -1;
};

} // namespace Synq

#endif
