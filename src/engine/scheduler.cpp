// SPDX-License-Identifier: BSD-3-Clause
#include "scheduler_p.h"

#include "syncengine_p.h"

#include <QtCore/QRandomGenerator>
#include <QtCore/QTimer>

#include <climits>

namespace Synq {

void Scheduler::runIn(int delayMs)
{
    if (!e->run.canRun())
        return;
    if (!m_timer) {
        m_timer = new QTimer(e->q);
        m_timer->setSingleShot(true);
        QObject::connect(m_timer, &QTimer::timeout, e->q, [this] { e->run.start(false); });
    }
    // An earlier run keeps its place; a later request never postpones it.
    if (m_timer->isActive() && m_timer->remainingTime() <= delayMs)
        return;
    m_timer->start(qMax(0, delayMs));
}

void Scheduler::localChange()
{
    if (e->autoSync)
        runIn(LocalChangeDebounceMs);
}

void Scheduler::changesAvailable()
{
    if (e->autoSync)
        runIn(LocalChangeDebounceMs);
}

void Scheduler::readyToSync()
{
    if (e->autoSync)
        runIn(0);
}

void Scheduler::retryDueAt(const QDateTime &due)
{
    if (!e->autoSync || !due.isValid())
        return;
    const qint64 ms = QDateTime::currentDateTimeUtc().msecsTo(due);
    runIn(int(qBound(qint64(0), ms, qint64(INT_MAX))));
}

void Scheduler::intervalChanged()
{
    if (e->autoSync && e->syncInterval > 0)
        runIn(e->syncInterval);
}

void Scheduler::runFinished(const SyncError &error)
{
    if (error.isError()) {
        ++m_failedRuns;
        // Exponential back-off with jitter, or the server's Retry-After if that is longer.
        const int delay = qMax(RunBackoff.delayMs(m_failedRuns,
                                                  QRandomGenerator::global()->generateDouble()),
                               error.retryAfterMs());
        if (e->autoSync)
            runIn(delay);
    } else {
        m_failedRuns = 0;
    }
    if (e->autoSync && e->syncInterval > 0)
        runIn(e->syncInterval); // periodic: an earlier retry keeps its place
}

} // namespace Synq
