// SPDX-License-Identifier: BSD-3-Clause
#include "delivery_p.h"

#include "syncengine_p.h"

#include <synq/identifier.h>
#include <synq/lifecycle.h>

#include <QtCore/QSet>
#include <QtCore/QTimer>

namespace Synq {

void Delivery::onPageApplied(quint64 run, const QString &collection,
                             const QList<SyncDatabase::SyncedWrite> &writes, bool hasMore,
                             const SyncError &error)
{
    if (!e->run.isCurrent(run))
        return;
    if (error.isError()) {
        e->run.finish(error);
        return;
    }
    m_queue.append(writes);
    m_collection = collection;
    m_more = hasMore;
    deliverChunk();
}

void Delivery::deliverChunk()
{
    CollectionStore *s = e->store(m_collection);
    const qsizetype n = qMin<qsizetype>(DeliveryChunk, m_queue.size());
    QList<RowState> states;
    QList<SyncDatabase::SyncedWrite> fixups;
    states.reserve(n);
    for (qsizetype i = 0; i < n; ++i) {
        const SyncDatabase::SyncedWrite &w = m_queue.at(i);
        RowState state = e->rowState(m_collection, w.key, w.synced, w.version, w.ord);
        if (state.optimistic) {
            // The row has local changes: they stay on top of the new synced state, and the
            // stored overlay follows.
            SyncDatabase::SyncedWrite f = w;
            f.setLocal = true;
            f.local = state.visible;
            f.localDeleted = !state.visible;
            fixups.append(f);
        } else if (!w.visibleInStore) {
            state.visible = std::nullopt;
        }
        states.append(std::move(state));
    }
    const QList<SyncDatabase::SyncedWrite> delivered = m_queue.mid(0, n);
    m_queue.remove(0, n);
    if (!fixups.isEmpty()) {
        const SyncError error = e->db->writeSynced(e->scopeId, {}, &fixups);
        if (error.isError())
            e->report(error);
    }
    // Ordered: a row an ordered transaction holds keeps showing what the user did; the pulled
    // state shows when that transaction ends (Settlement reads the row again then).
    states.removeIf(
            [&](const RowState &r) { return e->outbox.isLocked(itemId(m_collection, r.key)); });
    if (s)
        s->applyStates(states);
    completeAwaitedTransactions(m_collection, delivered);
    if (!m_queue.isEmpty()) {
        const quint64 run = e->run.serial();
        QTimer::singleShot(0, e->q, [this, run] {
            if (e->run.isCurrent(run))
                deliverChunk();
        });
        return;
    }
    e->pull.pageDelivered(m_collection, m_more);
}

void Delivery::completeAwaitedTransactions(const QString &collection,
                                           const QList<SyncDatabase::SyncedWrite> &writes)
{
    // A transaction awaiting sync completes when every change of it came back — at the
    // version the server gave it, or (persisted by the app's own code, no version known) with
    // its fields as it set them.
    QSet<QString> candidates;
    for (const SyncDatabase::SyncedWrite &w : writes) {
        const Outbox::Pending *pending = e->outbox.pendingOn(itemId(collection, w.key));
        if (!pending)
            continue;
        for (const MutationRecord &m : pending->mutations) {
            const TransactionRecord *t = e->outbox.record(m.transactionId);
            if (!t || t->state != TransactionState::PersistedAwaitingSync)
                continue;
            bool back = false;
            if (const qint64 expected = e->outbox.awaitedVersion(m.id); expected > 0) {
                back = w.version >= expected;
            } else if (m.type == MutationType::Remove) {
                back = !w.synced;
            } else if (w.synced) {
                back = true;
                for (auto f = m.changes.constBegin(); f != m.changes.constEnd() && back; ++f)
                    back = w.synced->value(f.key()) == f.value();
            }
            if (back) {
                e->outbox.markBack(m.id);
                candidates.insert(m.transactionId);
            }
        }
    }
    QList<Settlement::TransactionWrite> done;
    const QDateTime now = QDateTime::currentDateTimeUtc();
    for (const QString &id : std::as_const(candidates)) {
        TransactionRecord record = *e->outbox.record(id);
        bool all = true;
        for (const MutationRecord &m : std::as_const(record.mutations))
            all = all && e->outbox.isBack(m.id);
        if (!all || !Lifecycle::synced(record, now))
            continue;
        for (const MutationRecord &m : std::as_const(record.mutations))
            e->outbox.stopAwaiting(m.id);
        done.append({ record, {} });
    }
    if (!done.isEmpty())
        e->settlement.apply(done);
}

} // namespace Synq
