// SPDX-License-Identifier: BSD-3-Clause
#include <synq/compaction.h>
#include <synq/identifier.h>
#include <synq/pushrules.h>

#include <algorithm>
#include <map>
#include <tuple>

namespace Synq {
namespace Compaction {

namespace {

// (scope, collection, key). An ordered map keeps the walk independent of hashing.
using ItemId = std::tuple<QString, QString, QString>;

struct Fold
{
    qsizetype survivor = -1; // outbox index; -1 = no fold open
    MutationRecord mutation; // the merged mutation so far
    QList<qsizetype> absorbed; // outbox indexes, commit order
    bool cancellable = false; // an insert of a never-synced item: a remove cancels the chain
    // Transactions after the survivor that may not merge (a Parallel one is on either side)
    // but go with the chain if a remove cancels it; nothing merges after the first of them.
    QList<qsizetype> riders;
};

struct ItemState
{
    Fold fold;
    bool seen = false; // an earlier active transaction touched the item
    MutationType last = MutationType::Remove; // the type of the latest one, when seen
};

class Planner
{
public:
    Planner(const QList<TransactionRecord> &outbox, const QSet<QString> &referenced)
        : outbox(outbox), referenced(referenced)
    {
    }

    Plan run()
    {
        for (qsizetype i = 0; i < outbox.size(); ++i) {
            const TransactionRecord &tx = outbox.at(i);
            if (!isActive(tx.state))
                continue;
            if (isCompactable(tx)) {
                const MutationRecord &m = tx.mutations.constFirst();
                step(items[itemOf(tx, m)], i, m);
            } else {
                // A barrier: what came before it on its items is settled as it is.
                for (const MutationRecord &m : tx.mutations) {
                    ItemState &item = items[itemOf(tx, m)];
                    close(item);
                    item.seen = true;
                    item.last = m.type;
                }
            }
        }
        for (auto &entry : items)
            close(entry.second);

        std::sort(finished.begin(), finished.end(),
                  [](const auto &a, const auto &b) { return a.first < b.first; });
        std::sort(cancelled.begin(), cancelled.end());

        Plan plan;
        plan.merges.reserve(finished.size());
        for (const auto &entry : std::as_const(finished))
            plan.merges.append(entry.second);
        plan.cancelled.reserve(cancelled.size());
        for (qsizetype i : std::as_const(cancelled))
            plan.cancelled.append(outbox.at(i).id);
        return plan;
    }

private:
    static ItemId itemOf(const TransactionRecord &tx, const MutationRecord &m)
    {
        return ItemId(tx.scope, m.collection, m.key);
    }

    void step(ItemState &item, qsizetype index, const MutationRecord &m)
    {
        Fold &fold = item.fold;
        if (fold.survivor >= 0) {
            MutationRecord &merged = fold.mutation;
            // Parallel transactions persist and fail alone: never merged with another.
            const bool mergeable = fold.riders.isEmpty()
                    && outbox.at(fold.survivor).strategy == StrategyKind::Ordered
                    && outbox.at(index).strategy == StrategyKind::Ordered;
            switch (merged.type) {
            case MutationType::Insert:
                if (m.type == MutationType::Update && mergeable) {
                    merged.modified = PushRules::applyChanges(merged.modified, m.changes);
                    merged.changes = merged.modified;
                    absorb(item, index, m);
                    return;
                }
                if (m.type == MutationType::Remove && fold.cancellable) {
                    cancelled.append(fold.survivor);
                    cancelled.append(fold.absorbed);
                    cancelled.append(fold.riders);
                    cancelled.append(index);
                    fold = Fold();
                    item.last = MutationType::Remove;
                    return;
                }
                if (m.type == MutationType::Update && fold.cancellable) {
                    fold.riders.append(index);
                    item.last = m.type;
                    return;
                }
                break; // insert + insert, or a remove after an insert that may be on the server
            case MutationType::Update:
                if (!mergeable)
                    break;
                if (m.type == MutationType::Update) {
                    merged.changes = PushRules::applyChanges(merged.changes, m.changes);
                    merged.modified = m.modified;
                    absorb(item, index, m);
                    return;
                }
                if (m.type == MutationType::Remove) {
                    merged.type = MutationType::Remove;
                    merged.modified = QJsonObject();
                    merged.changes = QJsonObject();
                    absorb(item, index, m);
                    close(item); // nothing is folded into a remove
                    return;
                }
                break; // update + insert
            case MutationType::Remove:
                break; // not reached: a remove closes its fold at once
            }
            close(item);
        }

        const bool priorAbsent = !item.seen || item.last == MutationType::Remove;
        item.seen = true;
        item.last = m.type;
        if (m.type == MutationType::Remove)
            return; // a remove absorbs nothing, so it opens no fold
        fold.survivor = index;
        fold.mutation = m;
        fold.absorbed.clear();
        // (An item other changes refer to is created and removed on the server as it was here:
        // cancelling its insert would leave them referring to nothing.)
        fold.cancellable = m.type == MutationType::Insert && m.baseVersion == 0 && priorAbsent
                && !referenced.contains(itemId(m.collection, m.key));
    }

    static void absorb(ItemState &item, qsizetype index, const MutationRecord &m)
    {
        item.fold.absorbed.append(index);
        item.fold.mutation.updatedAt = m.updatedAt;
        item.last = m.type;
    }

    void close(ItemState &item)
    {
        Fold &fold = item.fold;
        if (fold.survivor >= 0 && !fold.absorbed.isEmpty()) {
            Merge merge;
            merge.survivor = outbox.at(fold.survivor).id;
            merge.mutation = fold.mutation;
            for (qsizetype i : std::as_const(fold.absorbed))
                merge.absorbed.append(outbox.at(i).id);
            finished.append({ fold.survivor, merge });
        }
        fold = Fold();
    }

    const QList<TransactionRecord> &outbox;
    const QSet<QString> &referenced;
    std::map<ItemId, ItemState> items;
    QList<std::pair<qsizetype, Merge>> finished;
    QList<qsizetype> cancelled;
};

} // namespace

/*!
    \namespace Synq::Compaction
    \brief Outbox compaction before a push, as pure functions.

    See compaction.h for the rules.
*/

/*!
    Returns whether \a transaction takes part in compaction: Pending or Queued (waiting behind
    another transaction: what is merged into it waits with it), exactly one mutation, and
    never attempted. A transaction that was ever sent may already be applied on the server, so
    rewriting or dropping it could apply a change twice or lose one.
*/
bool isCompactable(const TransactionRecord &transaction)
{
    return (transaction.state == TransactionState::Pending
            || transaction.state == TransactionState::Queued)
            && transaction.mutations.size() == 1
            && transaction.currentAttempt == 0 && transaction.attempts.isEmpty();
}

/*!
    Returns what compaction would do to \a outbox, given in commit order: which transactions
    carry merged changes, which are absorbed into them, and which cancel out. The insert and
    removal of an item in \a referenced (item ids, itemId()) do not cancel out: other pending
    changes refer to it. The outbox itself is not changed.
*/
Plan plan(const QList<TransactionRecord> &outbox, const QSet<QString> &referenced)
{
    return Planner(outbox, referenced).run();
}

} // namespace Compaction
} // namespace Synq
