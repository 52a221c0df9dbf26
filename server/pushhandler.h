// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PUSHHANDLER_H
#define SYNQ_PUSHHANDLER_H

#include "pushrequest.h"

#include <QtCore/QHash>
#include <QtCore/QJsonArray>
#include <QtCore/QSet>
#include <QtCore/QString>

#include <optional>
#include <utility>

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
    // A hash whose changes since the last keep() can be undone: a transaction's facts join
    // the batch's only if it is applied. (Copying the batch's hash for every transaction
    // instead made a 500-transaction push quadratic: a fifth of the server's time.)
    template<typename V>
    class Journaled
    {
    public:
        bool contains(const QString &key) const { return m_hash.contains(key); }
        V value(const QString &key, const V &fallback = V()) const
        {
            return m_hash.value(key, fallback);
        }
        void insert(const QString &key, const V &value)
        {
            const auto it = m_hash.constFind(key);
            m_undo.append({ key, it == m_hash.cend() ? std::nullopt : std::optional<V>(*it) });
            m_hash.insert(key, value);
        }
        void keep() { m_undo.clear(); }
        void undo()
        {
            for (auto it = m_undo.crbegin(); it != m_undo.crend(); ++it) {
                if (it->second)
                    m_hash.insert(it->first, *it->second);
                else
                    m_hash.remove(it->first);
            }
            m_undo.clear();
        }
        void clear()
        {
            m_hash.clear();
            m_undo.clear();
        }

    private:
        QHash<QString, V> m_hash;
        QList<std::pair<QString, std::optional<V>>> m_undo;
    };
    using Produced = Journaled<qint64>; // item -> the version an earlier mutation produced
    using Assigned = Journaled<QString>; // item as the client named it -> server-assigned key

    enum class Verdict { Applied, Conflict };
    struct Applied
    {
        QString key;
        qint64 version = 0;
    };

    bool runTransaction(const QString &owner, const QList<PushMutation> &mutations,
                        qsizetype begin, qsizetype end, QList<QJsonObject> *results,
                        QList<bool> *stored);
    bool applyOne(const QString &owner, const PushMutation &m, Produced *produced,
                  Assigned *assigned, Verdict *verdict, Applied *applied, QString *conflictKey);
    QJsonObject conflictResult(const QString &owner, const PushMutation &m, const QString &key);
    void noteApplied(const PushMutation &m, const QJsonObject &result, Produced *produced,
                     Assigned *assigned) const;

    ServerStore *m_store;
    QSet<QString> m_serverAssignedKeys;
    // Batch-wide facts of applied (or earlier remembered) mutations.
    Produced m_produced;
    Assigned m_assigned;
};

} // namespace Server
} // namespace Synq

#endif
