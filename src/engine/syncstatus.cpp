// SPDX-License-Identifier: BSD-3-Clause
#include "syncstatus_p.h"

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

SyncStatus::SyncStatus(QObject *parent) : QObject(parent), d(new SyncStatusPrivate)
{
    d->q = this;
}

SyncStatus::~SyncStatus() = default;

bool SyncStatus::isOnline() const { return d->online; }
bool SyncStatus::isSyncing() const { return d->syncing; }
QString SyncStatus::phase() const { return d->phase; }
int SyncStatus::pendingCount() const { return d->pendingCount; }
int SyncStatus::failedCount() const { return d->failedCount; }
int SyncStatus::conflictCount() const { return d->conflictCount; }
QDateTime SyncStatus::lastSyncedAt() const { return d->lastSyncedAt; }
SyncError SyncStatus::lastError() const { return d->lastError; }
double SyncStatus::progress() const { return d->progress; }

// Sets a value and emits its change signal if it changed.
template<typename T>
static void assign(SyncStatus *q, T &field, const T &value, void (SyncStatus::*changed)())
{
    if (field == value)
        return;
    field = value;
    Q_EMIT(q->*changed)();
}

void SyncStatusPrivate::setPendingCount(int count)
{
    assign(q, pendingCount, count, &SyncStatus::pendingCountChanged);
}

void SyncStatusPrivate::setFailedCount(int count)
{
    assign(q, failedCount, count, &SyncStatus::failedCountChanged);
}

void SyncStatusPrivate::setConflictCount(int count)
{
    assign(q, conflictCount, count, &SyncStatus::conflictCountChanged);
}

void SyncStatusPrivate::setLastError(const SyncError &error)
{
    assign(q, lastError, error, &SyncStatus::lastErrorChanged);
}

void SyncStatusPrivate::setLastSyncedAt(const QDateTime &at)
{
    assign(q, lastSyncedAt, at, &SyncStatus::lastSyncedAtChanged);
}

void SyncStatusPrivate::setSyncing(bool value)
{
    assign(q, syncing, value, &SyncStatus::syncingChanged);
}

void SyncStatusPrivate::setOnline(bool value)
{
    assign(q, online, value, &SyncStatus::onlineChanged);
}

} // namespace Synq
