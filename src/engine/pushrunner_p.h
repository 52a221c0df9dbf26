// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PUSHRUNNER_P_H
#define SYNQ_PUSHRUNNER_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include "settlement_p.h"

#include <synq/protocol.h>
#include <synq/syncerror.h>

#include <QtCore/QDateTime>
#include <QtCore/QHash>
#include <QtCore/QSet>
#include <QtCore/QString>
#include <QtCore/QStringList>

namespace Synq {

class SyncEnginePrivate;

/*
    The push phase of a sync run: compacts the outbox, sends it oldest first in batches of
    whole transactions — through the transport (the Synq protocol) or a collection's persist
    handler — and turns each answer into an outcome for Settlement. Up to the transport's
    maxPushesInFlight() batches travel at once, never two that share an item (an item's
    changes reach the backend in order). The phase ends, and the pull begins, when nothing more
    can be sent in this run; a failure that ends the run waits for the answers still out.
*/
class PushRunner
{
public:
    explicit PushRunner(SyncEnginePrivate *engine) : e(engine) { }

    // A run starts: from the first batch.
    void begin();
    // Sends what may go now (more batches, or the end of the phase).
    void sendNext();
    // Transactions were released or became active again: compact before the next batch.
    void compactBeforeNextBatch() { m_compactionDue = true; }

private:
    void compact();
    void stop(const SyncError &error);
    void answered(quint64 run);
    void callPersistHandler(const QString &id, const QString &attemptId);
    void onPersisted(const QString &id, const QString &attemptId, const SyncError &error);
    void onPushed(const QStringList &txIds, const Protocol::PushRequest &request,
                  quint64 pushSerial, const Protocol::PushResponse &response,
                  const SyncError &error);
    // The request as a whole failed (no per-mutation results).
    void onRequestFailed(const QStringList &txIds, const Protocol::PushRequest &request,
                         quint64 pushSerial, const SyncError &error);
    void onResults(const QStringList &txIds, const Protocol::PushResponse &response);
    // The backend answered a conflict to failure.id, a mutation of write.record: the
    // collection's policy decides what becomes of the transaction (conflicts.cpp): write's
    // record, its rewritten mutations or the conflict it now waits on. rebased collects other
    // transactions whose base versions move.
    void settleConflict(Settlement::TransactionWrite &write, const Protocol::PushResult &failure,
                        const QDateTime &now, Settlement::Outcome &outcome,
                        QHash<QString, TransactionRecord> &rebased);
    // The pending mutations on item (but those of transaction `except`) made on fromVersion
    // now build on toVersion: a change under them reached the server at that version.
    void moveOnto(const QString &item, const QString &except, qint64 fromVersion,
                  qint64 toVersion, QHash<QString, TransactionRecord> &rebased) const;
    // Whether t refers (through the relation graph) to an item whose insert, earlier in commit
    // order, has not reached the server yet (P4, I4): t goes after it, under its server key.
    // awaited collects the items waiting transactions refer to; a later transaction on one of
    // them (the parent's removal) waits too.
    bool waitsForParent(const TransactionRecord &t, QSet<QString> *awaited) const;
    // The attempt is taken back: it never reached the backend, or goes again at once.
    void withdraw(const QStringList &txIds, bool again);

    SyncEnginePrivate *e;
    int m_batchLimit = 0; // 0: the transport's batch size (smaller after a 413)
    QSet<QString> m_triedThisRun; // one attempt per run: a retry waits for a later one
    bool m_compactionDue = false;
    int m_inFlight = 0; // pushes on their way
    QSet<QString> m_itemsInFlight; // the items they carry
    // The phase ends (with this error) once the pushes still on their way are answered.
    bool m_stopping = false;
    SyncError m_stopError;
    // Pushes sent in this run, and the first one sent after new credentials were asked for:
    // a 401 to a push sent before that came with the old ones and goes again too.
    quint64 m_sent = 0;
    quint64 m_firstAfterNewCredentials = 0;
};

} // namespace Synq

#endif
