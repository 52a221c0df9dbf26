// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SCHEDULER_P_H
#define SYNQ_SCHEDULER_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/backoff.h>
#include <synq/syncerror.h>

#include <QtCore/QDateTime>

QT_BEGIN_NAMESPACE
class QTimer;
QT_END_NAMESPACE

namespace Synq {

class SyncEnginePrivate;

/*
    The scheduler: when sync runs start. One single-shot timer; a request for a run never
    postpones an earlier one. With autoSync on, runs follow local changes (debounced, so a burst
    of edits goes out together), realtime hints, the database opening, a transport being set,
    retries falling due, syncInterval, and — after a run that failed — an exponential back-off
    with jitter (the same RetrySettings arithmetic as transaction retries), or the server's
    Retry-After when that is longer. syncNow() does not wait for it.
*/
class Scheduler
{
public:
    // Local changes are pushed after this quiet time, so a burst of edits goes out together.
    static constexpr int LocalChangeDebounceMs = 50;
    // After failed runs: one second, doubling, at most a minute apart, ±25 % at random.
    static constexpr RetrySettings RunBackoff { 0, 1000, 64000, 2.0, 0.25 };

    explicit Scheduler(SyncEnginePrivate *engine) : e(engine) { }

    // A run in delayMs, unless one is due sooner; nothing while no run could do anything.
    void runIn(int delayMs);
    // The moments a run starts at with autoSync on (each does nothing with it off).
    void localChange();
    void changesAvailable();
    void readyToSync(); // opened, transport set, autoSync turned on: at once
    void retryDueAt(const QDateTime &due);
    void intervalChanged();
    void runFinished(const SyncError &error);

private:
    SyncEnginePrivate *e;
    QTimer *m_timer = nullptr;
    int m_failedRuns = 0;
};

} // namespace Synq

#endif
