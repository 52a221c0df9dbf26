// SPDX-License-Identifier: BSD-3-Clause
#include <synq/syncstatus.h>

namespace Synq {

/*!
    \class Synq::SyncStatus
    \inmodule Synq
    \brief The state of one SyncEngine at a glance, for status bars and indicators.

    pendingCount counts the transactions in the outbox that are still on their way;
    failedCount the ones that failed for good and wait in the dead-letter queue for
    SyncEngine::retry() or SyncEngine::discard(); lastError is the most recent error the
    engine reported through SyncEngine::errorOccurred().

    \c online is false until a transport has reached a backend; \c progress is -1 when
    unknown.
*/

/*!
    \qmltype SyncStatus
    \inqmlmodule Synq
    \brief Read-only state of a SyncEngine (\c{engine.status}). Not creatable.
*/

SyncStatus::SyncStatus(QObject *parent) : QObject(parent) { }

SyncStatus::~SyncStatus() = default;

void SyncStatus::setPendingCount(int count)
{
    if (m_pendingCount == count)
        return;
    m_pendingCount = count;
    Q_EMIT pendingCountChanged();
}

void SyncStatus::setFailedCount(int count)
{
    if (m_failedCount == count)
        return;
    m_failedCount = count;
    Q_EMIT failedCountChanged();
}

void SyncStatus::setLastError(const SyncError &error)
{
    if (m_lastError == error)
        return;
    m_lastError = error;
    Q_EMIT lastErrorChanged();
}

void SyncStatus::setLastSyncedAt(const QDateTime &at)
{
    if (m_lastSyncedAt == at)
        return;
    m_lastSyncedAt = at;
    Q_EMIT lastSyncedAtChanged();
}

void SyncStatus::setSyncing(bool syncing)
{
    if (m_syncing == syncing)
        return;
    m_syncing = syncing;
    Q_EMIT syncingChanged();
}

void SyncStatus::setOnline(bool online)
{
    if (m_online == online)
        return;
    m_online = online;
    Q_EMIT onlineChanged();
}

} // namespace Synq
