// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_ORDERING_H
#define SYNQ_ORDERING_H

#include <synq/records.h>
#include <synq/synq_export.h>

#include <QtCore/QDateTime>
#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QPair>
#include <QtCore/QSet>
#include <QtCore/QString>
#include <QtCore/QStringList>

/*
    The ordered strategy's rules (T3, T10), pure. A key is locked by an ordered transaction
    that is Queued, Persisting or PersistedAwaitingSync: a later ordered transaction touching
    that key waits, Queued behind the most recent such transaction, and goes only when it is
    done. Parallel transactions neither wait nor lock.

    Transactions are identified by id; "keys" are item ids (collection/key). Lists are in
    commit order.
*/

namespace Synq {
namespace Ordering {

// What the rules need to know of a transaction.
struct SYNQ_EXPORT Entry
{
    QString id;
    TransactionState state = TransactionState::Pending;
    StrategyKind strategy = StrategyKind::Ordered;
    QStringList keys;
    QString queuedBehind;
    QDateTime dueAt; // a Pending one's scheduled retry (invalid: due now)
    int size = 1; // mutations

    static Entry of(const TransactionRecord &t);
    static QStringList keysOf(const TransactionRecord &t);
    // With the keys already known (they never change for a transaction).
    static Entry of(const TransactionRecord &t, const QStringList &keys);
};

SYNQ_EXPORT bool locks(TransactionState state, StrategyKind strategy);
inline bool locks(const Entry &e) { return locks(e.state, e.strategy); }
inline bool locks(const TransactionRecord &t) { return locks(t.state, t.strategy); }

// The transaction `t` has to wait for: the most recent of `earlier` that holds one of its keys,
// or "" when it may go. `earlier` are the transactions committed before t, in commit order.
SYNQ_EXPORT QString blockerFor(const Entry &t, const QList<Entry> &earlier);

// Every transaction queued, directly or through others, behind `failedId`, in commit order:
// they fail with it (dependency cancellation).
SYNQ_EXPORT QStringList dependentsOf(const QString &failedId, const QList<Entry> &outbox);

// After `finishedId` ended well (or was retried, or discarded): the queued transactions that
// waited for it, each with what it waits for now ("" = released).
SYNQ_EXPORT QList<QPair<QString, QString>> reassess(const QString &finishedId,
                                                    const QList<Entry> &outbox);

// The next push batch: Pending transactions that are due, not in `skip`, in commit order, up to
// `limit` mutations (always at least one transaction). An ordered transaction whose key is
// locked, or taken by an earlier one in this batch, is not sent: it goes in `queue` with what it
// waits for.
struct SYNQ_EXPORT Batch
{
    QStringList send;
    QList<QPair<QString, QString>> queue; // (id, behind)
    QDateTime nextDue; // the earliest scheduled retry not yet due (invalid: none)
};
SYNQ_EXPORT Batch nextBatch(const QList<Entry> &outbox, int limit, const QDateTime &now,
                            const QSet<QString> &skip);

} // namespace Ordering
} // namespace Synq

#endif
