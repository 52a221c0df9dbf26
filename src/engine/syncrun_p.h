// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCRUN_P_H
#define SYNQ_SYNCRUN_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/syncerror.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QVariantMap>

namespace Synq {

class SyncEnginePrivate;

// What one sync run did: the report of SyncEngine::syncFinished().
struct RunReport
{
    int pushed = 0; // mutations persisted
    int pulled = 0; // changes pulled
    int conflicts = 0;
    // One entry per conflict: {collection, key, transactionId, outcome}.
    QVariantList conflictOutcomes;
    int failed = 0; // transactions that failed for good
    qint64 durationMs = 0;
    SyncError error;

    QVariantMap toVariantMap() const;
};

/*
    One sync run: it starts (syncStarted()), pushes the outbox (PushRunner), then pulls every
    collection the engine has models for (PullRunner), and finishes (syncFinished(report)).
    A run asked for while one is going starts right after it. Every answer the run is waiting
    for carries its serial: after a close or a scope change (abandon()) answers of the run
    before are dropped.
*/
class SyncRun
{
public:
    explicit SyncRun(SyncEnginePrivate *engine) : e(engine) { }

    // Whether a run could do anything: an open database and somewhere to persist to.
    bool canRun() const;
    // Starts a run now, or right after the one in progress. sendScheduledRetries: transactions
    // waiting for a retry scheduled for later go in this run too (syncNow()).
    void start(bool sendScheduledRetries);
    void finish(const SyncError &error);
    void abandon();

    bool isRunning() const { return m_running; }
    quint64 serial() const { return m_serial; }
    bool isCurrent(quint64 serial) const { return m_running && serial == m_serial; }
    bool sendsScheduledRetries() const { return m_sendScheduledRetries; }
    RunReport &report() { return m_report; }

    // A 401 in this run asked the app for new credentials: one more try, once per run.
    bool hasRetriedUnauthorized() const { return m_retriedUnauthorized; }
    void setRetriedUnauthorized() { m_retriedUnauthorized = true; }

private:
    SyncEnginePrivate *e;
    bool m_running = false;
    bool m_anotherRequested = false; // a run was asked for while this one went
    bool m_sendScheduledRetries = false;
    bool m_nextSendsScheduledRetries = false;
    bool m_retriedUnauthorized = false;
    quint64 m_serial = 0;
    RunReport m_report;
    QElapsedTimer m_clock;
};

} // namespace Synq

#endif
