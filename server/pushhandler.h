// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PUSHHANDLER_H
#define SYNQ_PUSHHANDLER_H

#include "pushrequest.h"

#include <synq/pushrules.h>

#include <QtCore/QJsonArray>
#include <QtCore/QSet>
#include <QtCore/QString>

namespace Synq {
namespace Server {

class ServerStore;

/*
    Applies one push for one owner (docs/protocol.md, Push).

    The batch runs in one database transaction (one commit, one sync to disk), each of its
    transactions (adjacent mutations sharing a tx) under a savepoint of its own, in request
    order:
    - mutation ids seen before return their stored result and are not applied again;
    - the others are checked and written one by one; the first conflict or rejection rolls
      the transaction back to its savepoint: that mutation carries its status, its siblings
      "rejected"/"aborted" with the cause's retryable;
    - otherwise the results are stored under their mutation ids in the same database
      transaction, so a result is remembered exactly when its write is committed.
    Only applied results are remembered: a conflicted or aborted mutation was not applied and
    is judged afresh when sent again (after the client rebased it, say).

    Each write keeps the mutation's hybrid logical clock stamp ("hlc", none for older clients)
    with the record or tombstone. An applied result carries it; a conflict carries the stamp
    of the write that made the state it reports, so a client's LastWriteWins policy can
    compare the two writes. The server never compares stamps itself.

    If the database fails, that transaction and every later one in the batch get "retry"
    (transactions are applied in order, so none may overtake one that has to be retried); if
    the commit fails, every result not remembered from before does.
*/
class PushHandler
{
public:
    PushHandler(ServerStore *store, const QSet<QString> &serverAssignedKeys);

    struct Outcome
    {
        QJsonArray results; // one per mutation, in request order
        bool databaseFailed = false;
        bool anyDecided = false; // some result is not "retry"
    };
    Outcome run(const QString &owner, const PushRequest &request);

private:
    struct Applied
    {
        QString key;
        qint64 version = 0;
    };

    bool runTransaction(const QString &owner, const QList<PushMutation> &mutations,
                        qsizetype begin, qsizetype end, QList<QJsonObject> *results,
                        QList<bool> *stored);
    bool applyOne(const QString &owner, const PushMutation &m, PushRules::Verdict *verdict,
                  Applied *applied, QString *conflictKey);
    bool insertUnderNewKey(const QString &owner, const PushMutation &m, Applied *applied);
    QJsonObject conflictResult(const QString &owner, const PushMutation &m, const QString &key);
    void noteStored(const PushMutation &m, const QJsonObject &result);

    ServerStore *m_store;
    QSet<QString> m_serverAssignedKeys;
    // Batch-wide facts of applied (or earlier remembered) mutations.
    PushRules::Batch m_batch;
};

} // namespace Server
} // namespace Synq

#endif
