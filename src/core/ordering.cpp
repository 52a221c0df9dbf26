// SPDX-License-Identifier: BSD-3-Clause
#include <synq/ordering.h>

#include <synq/identifier.h>
#include <synq/lifecycle.h>

namespace Synq {
namespace Ordering {

QStringList Entry::keysOf(const TransactionRecord &t)
{
    QStringList keys;
    keys.reserve(t.mutations.size());
    QSet<QString> seen; // a bulk transaction has many mutations: no quadratic contains()
    seen.reserve(t.mutations.size());
    for (const MutationRecord &m : t.mutations) {
        QString key = itemId(m.collection, m.key);
        if (!seen.contains(key)) {
            seen.insert(key);
            keys.append(std::move(key));
        }
    }
    return keys;
}

Entry Entry::of(const TransactionRecord &t)
{
    return of(t, keysOf(t));
}

Entry Entry::of(const TransactionRecord &t, const QStringList &keys)
{
    Entry e;
    e.id = t.id;
    e.state = t.state;
    e.strategy = t.strategy;
    e.queuedBehind = t.queuedBehind;
    e.size = int(t.mutations.size());
    e.keys = keys;
    e.dueAt = Lifecycle::dueAt(t);
    return e;
}

bool locks(TransactionState state, StrategyKind strategy)
{
    return strategy == StrategyKind::Ordered
            && (state == TransactionState::Queued || state == TransactionState::Persisting
                || state == TransactionState::PersistedAwaitingSync);
}

static bool shareKey(const Entry &a, const QSet<QString> &keys)
{
    for (const QString &k : a.keys) {
        if (keys.contains(k))
            return true;
    }
    return false;
}

QString blockerFor(const Entry &t, const QList<Entry> &earlier)
{
    if (t.strategy != StrategyKind::Ordered || earlier.isEmpty())
        return {};
    const QSet<QString> keys(t.keys.cbegin(), t.keys.cend());
    for (auto it = earlier.crbegin(); it != earlier.crend(); ++it) {
        if (it->id != t.id && locks(*it) && shareKey(*it, keys))
            return it->id;
    }
    return {};
}

QStringList dependentsOf(const QString &failedId, const QList<Entry> &outbox)
{
    QSet<QString> failed { failedId };
    QStringList out;
    // Queued transactions wait only for earlier ones, so one pass in commit order finds chains.
    for (const Entry &e : outbox) {
        if (e.state == TransactionState::Queued && failed.contains(e.queuedBehind)) {
            failed.insert(e.id);
            out.append(e.id);
        }
    }
    return out;
}

QList<QPair<QString, QString>> reassess(const QString &finishedId, const QList<Entry> &outbox)
{
    QList<QPair<QString, QString>> out;
    QList<Entry> earlier;
    earlier.reserve(outbox.size());
    QSet<QString> moved { finishedId };
    for (Entry e : outbox) {
        if (e.id == finishedId)
            continue; // it holds nothing any more
        if (e.state == TransactionState::Queued && moved.contains(e.queuedBehind)) {
            const QString behind = blockerFor(e, earlier);
            out.append({ e.id, behind });
            moved.insert(e.id);
            e.queuedBehind = behind;
            if (behind.isEmpty())
                e.state = TransactionState::Pending;
        }
        earlier.append(e);
    }
    return out;
}

Batch nextBatch(const QList<Entry> &outbox, int limit, const QDateTime &now,
                const QSet<QString> &skip)
{
    Batch batch;
    // key -> position of the most recent ordered transaction that locks it (waits or is on
    // its way, or goes in this batch)
    QHash<QString, qsizetype> lockedBy;
    QSet<QString> held; // keys of earlier ordered transactions that stay behind this time
    int count = 0;
    bool full = false;
    for (qsizetype i = 0; i < outbox.size(); ++i) {
        const Entry &e = outbox.at(i);
        const bool ordered = e.strategy == StrategyKind::Ordered;
        auto mark = [&](bool lock) {
            if (!ordered)
                return;
            for (const QString &k : e.keys) {
                if (lock)
                    lockedBy.insert(k, i);
                else
                    held.insert(k);
            }
        };
        if (e.state != TransactionState::Pending) {
            if (locks(e))
                mark(true);
            continue;
        }
        if (ordered) {
            qsizetype behind = -1;
            for (const QString &k : e.keys)
                behind = qMax(behind, lockedBy.value(k, -1));
            if (behind >= 0) {
                batch.queue.append({ e.id, outbox.at(behind).id });
                mark(true); // queued: it locks its keys now
                continue;
            }
            if (shareKey(e, held)) {
                mark(false); // an earlier change to its keys goes first
                continue;
            }
        }
        const bool due = !e.dueAt.isValid() || e.dueAt <= now;
        if (!due && (!batch.nextDue.isValid() || e.dueAt < batch.nextDue))
            batch.nextDue = e.dueAt;
        if (!due || skip.contains(e.id) || full
            || (!batch.send.isEmpty() && count + e.size > limit)) {
            full = full || (due && !skip.contains(e.id) && !batch.send.isEmpty());
            mark(false);
            continue;
        }
        batch.send.append(e.id);
        count += e.size;
        mark(true); // on its way once the batch goes
    }
    return batch;
}

} // namespace Ordering
} // namespace Synq
