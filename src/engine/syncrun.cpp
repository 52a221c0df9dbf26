// SPDX-License-Identifier: BSD-3-Clause
#include "syncrun_p.h"

#include "syncengine_p.h"
#include "syncstatus_p.h"

#include <synq/lifecycle.h>

namespace Synq {

QVariantMap RunReport::toVariantMap() const
{
    return { { QStringLiteral("pushed"), pushed },
             { QStringLiteral("pulled"), pulled },
             { QStringLiteral("conflicts"), conflicts },
             { QStringLiteral("conflictOutcomes"), conflictOutcomes },
             { QStringLiteral("failed"), failed },
             { QStringLiteral("durationMs"), durationMs },
             { QStringLiteral("error"), QVariant::fromValue(error) } };
}

bool SyncRun::canRun() const
{
    if (!e->db)
        return false;
    if (e->transport)
        return true;
    for (const CollectionConfig &c : std::as_const(e->configs)) {
        if (c.persist)
            return true;
    }
    return false;
}

void SyncRun::start(bool sendScheduledRetries)
{
    if (m_running) {
        m_anotherRequested = true;
        m_nextSendsScheduledRetries = m_nextSendsScheduledRetries || sendScheduledRetries;
        return;
    }
    if (!e->ensureOpen() || !canRun())
        return;
    if (e->transport && e->clientId.isEmpty()) {
        const SyncError error = e->db->clientId(&e->clientId);
        if (error.isError()) {
            e->report(error);
            return;
        }
    }
    m_running = true;
    m_anotherRequested = false;
    m_sendScheduledRetries = sendScheduledRetries || m_nextSendsScheduledRetries;
    m_nextSendsScheduledRetries = false;
    m_retriedUnauthorized = false;
    ++m_serial;
    m_report = RunReport();
    m_clock.start();
    e->statusData()->setSyncing(true);
    Q_EMIT e->q->syncStarted();
    e->push.begin();
}

void SyncRun::abandon()
{
    m_running = false;
    ++m_serial; // answers to requests of the run before are dropped
    e->pull.abandon();
}

void SyncRun::finish(const SyncError &error)
{
    m_running = false;
    e->pull.abandon();
    SyncStatusPrivate *status = e->statusData();
    status->setSyncing(false);
    // Reached means answered: only a failure to get any answer says offline.
    status->setOnline(!(error.code() == SyncError::Network && error.httpStatus() == 0)
                      && error.code() != SyncError::Timeout);
    m_report.durationMs = m_clock.elapsed();
    m_report.error = error;

    // Transactions whose attempt failed go again when their retry is due.
    QDateTime due;
    for (const QString &id : e->outbox.unfinished()) {
        const TransactionRecord *r = e->outbox.record(id);
        const QDateTime at = r ? Lifecycle::dueAt(*r) : QDateTime();
        if (at.isValid() && (!due.isValid() || at < due))
            due = at;
    }
    e->scheduler.retryDueAt(due);
    if (error.isError())
        e->report(error);
    else
        status->setLastSyncedAt(QDateTime::currentDateTimeUtc());
    e->scheduler.runFinished(error);
    Q_EMIT e->q->syncFinished(m_report.toVariantMap());
    if (m_anotherRequested)
        e->scheduler.runIn(0);
}

} // namespace Synq
