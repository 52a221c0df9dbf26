// SPDX-License-Identifier: BSD-3-Clause
#include "settlement_p.h"

#include "syncengine_p.h"
#include "transaction_p.h"

#include <synq/identifier.h>
#include <synq/lifecycle.h>
#include <synq/overlay.h>

#include <QtCore/QSet>

namespace Synq {

namespace {

// On its way to the backend: what a row shows as Syncing.
bool onItsWay(TransactionState state)
{
    return state == TransactionState::Persisting
            || state == TransactionState::PersistedAwaitingSync;
}

struct ItemRef
{
    QString collection;
    QString key;
};

} // namespace

bool Settlement::apply(const QList<TransactionWrite> &transactions)
{
    Outcome outcome;
    outcome.transactions = transactions;
    return apply(std::move(outcome));
}

bool Settlement::apply(Outcome outcome)
{
    QList<TransactionWrite> &writes = outcome.transactions;
    const Remapping::KeyChanges changes(outcome.remaps);
    ItemKeys referencing; // rows whose references to remapped items change
    QHash<QString, Remapping::KeyChange> renamed; // server item id -> its remap
    if (!changes.isEmpty() && !remapOutcome(outcome, changes, &referencing, &renamed))
        return false;
    addConsequences(writes);

    // The outbox first (the rows' new states depend on which transactions stay active), then
    // one SQL transaction, then the rows, then the handles.
    QHash<QString, ItemRef> touched; // item id -> item whose synced or visible state changes
    QList<MutationRecord> syncStateOnly; // mutations whose rows only change their sync state
    bool released = false;
    for (const TransactionWrite &w : std::as_const(writes)) {
        const TransactionRecord *old = e->outbox.record(w.record.id);
        if (!old)
            continue;
        const TransactionState before = old->state; // (update() replaces *old)
        const bool wasActive = isActive(before);
        const bool nowActive = isActive(w.record.state);
        released = released
                || (before == TransactionState::Queued
                    && w.record.state == TransactionState::Pending)
                || (!wasActive && nowActive);
        e->outbox.update(w.record);
        if (wasActive != nowActive) {
            for (const MutationRecord &m : w.record.mutations)
                touched.insert(itemId(m.collection, m.key), { m.collection, m.key });
        } else if (onItsWay(before) != onItsWay(w.record.state)) {
            syncStateOnly.append(w.record.mutations);
        }
    }
    QHash<QString, qsizetype> server; // item id -> its entry in serverStates
    for (qsizetype i = 0; i < outcome.serverStates.size(); ++i) {
        const ServerState &s = outcome.serverStates.at(i);
        const QString id = itemId(s.collection, s.key);
        server.insert(id, i);
        touched.insert(id, { s.collection, s.key });
    }
    QHash<QString, QList<qsizetype>> persistedOn; // item id -> its persisted changes, in order
    for (qsizetype i = 0; i < outcome.persisted.size(); ++i) {
        const MutationRecord &m = outcome.persisted.at(i).mutation;
        const QString id = itemId(m.collection, m.key);
        persistedOn[id].append(i);
        touched.insert(id, { m.collection, m.key });
    }
    for (auto it = referencing.cbegin(); it != referencing.cend(); ++it)
        touched.insert(it.key(), { it->first, it->second });

    // The synced state each touched row returns to: what the server said (unless the replica
    // already holds a newer version), or what the replica holds.
    QHash<QString, QStringList> byCollection;
    for (auto it = touched.cbegin(); it != touched.cend(); ++it) {
        if (!server.contains(it.key()) || outcome.keepNewerStored)
            byCollection[it->collection].append(it->key);
        if (const auto r = renamed.constFind(it.key()); r != renamed.cend())
            byCollection[it->collection].append(r->clientKey); // stored under it until now
    }
    QHash<QString, SyncDatabase::SyncedState> stored;
    for (auto it = byCollection.cbegin(); it != byCollection.cend(); ++it) {
        QHash<QString, SyncDatabase::SyncedState> states;
        const SyncError error = e->db->loadSynced(it.key(), e->scopeId, it.value(), &states);
        if (error.isError()) {
            e->report(error);
            e->loadScope(); // the outbox was updated already: back to what the file says
            return false;
        }
        for (auto s = states.cbegin(); s != states.cend(); ++s)
            stored.insert(itemId(it.key(), s.key()), s.value());
    }
    for (auto r = renamed.cbegin(); r != renamed.cend(); ++r) {
        // The client's row becomes the item; a row pulled under the server key first holds
        // the newer synced state, if either does.
        const auto client = stored.constFind(itemId(r->collection, r->clientKey));
        if (client == stored.cend())
            continue;
        const auto pulled = stored.constFind(r.key());
        if (pulled == stored.cend() || pulled->version < client->version)
            stored.insert(r.key(), *client);
        stored.remove(itemId(r->collection, r->clientKey));
    }

    QList<SyncDatabase::SyncedWrite> items;
    QList<CollectionStore *> itemStores;
    for (auto it = touched.cbegin(); it != touched.cend(); ++it) {
        CollectionStore *s = e->store(it->collection);
        if (!s)
            continue;
        SyncDatabase::SyncedWrite w;
        w.collection = it->collection;
        w.key = it->key;
        const auto have = stored.constFind(it.key());
        const auto given = server.constFind(it.key());
        const ServerState *state =
                given == server.cend() ? nullptr : &outcome.serverStates.at(*given);
        if (state
            && !(outcome.keepNewerStored && have != stored.cend()
                 && have->version > state->version)) {
            w.synced = state->record;
            w.version = state->version;
        } else {
            w.synced = have != stored.cend() ? have->data : std::nullopt;
            w.version = have != stored.cend() ? have->version : 0;
        }
        if (w.synced && (referencing.contains(it.key()) || renamed.contains(it.key())))
            changes.applyToRow(w.collection, e->config(w.collection).keyField, *w.synced,
                               e->relations);
        // Persisted changes: the server applied exactly these changes to the state it had, so
        // the synced state is that state with them — not the row as the user saw it then (which
        // held other pending changes) — unless a newer version is stored already.
        for (const qsizetype i : persistedOn.value(it.key())) {
            const Persisted &p = outcome.persisted.at(i);
            if (p.version >= 0 && w.version > p.version)
                continue;
            w.synced = Overlay::apply(w.synced, p.mutation);
            if (p.version >= 0)
                w.version = p.version;
        }
        const RowState row = e->rowState(it->collection, it->key, w.synced, w.version, 0);
        w.setLocal = true;
        w.local = row.optimistic ? row.visible : std::optional<QJsonObject>();
        if (!row.optimistic)
            w.local = std::optional<std::optional<QJsonObject>>(std::optional<QJsonObject>());
        w.localDeleted = row.optimistic && !row.visible;
        items.append(w);
        itemStores.append(s);
    }

    const SyncError error = e->db->writeSynced(e->scopeId, writes, &items, nullptr, changes.list());
    if (error.isError()) {
        // Nothing was written: memory goes back to what the file says.
        e->report(error);
        e->loadScope();
        return false;
    }

    // The rows first, then the transactions: code reacting to completed() or failed() reads
    // the models in their new state.
    QHash<CollectionStore *, QList<RowState>> perStore;
    for (qsizetype i = 0; i < items.size(); ++i) {
        const SyncDatabase::SyncedWrite &w = items.at(i);
        RowState state = e->rowState(w.collection, w.key, w.synced, w.version, w.ord);
        if (const auto r = renamed.constFind(itemId(w.collection, w.key)); r != renamed.cend()) {
            state.previousKey = r->clientKey;
            // A row pulled under the server key first gave way to the client's (remap()).
            CollectionStore *s = itemStores.at(i);
            if (s->indexOf(w.key) >= 0 && s->indexOf(r->clientKey) >= 0)
                s->applyStates({ RowState { w.key } });
        }
        perStore[itemStores.at(i)].append(std::move(state));
    }
    for (auto it = perStore.cbegin(); it != perStore.cend(); ++it)
        it.key()->applyStates(it.value());
    for (const Remapping::KeyChange &c : changes.list()) {
        e->idMap.insert(itemId(c.collection, c.clientKey), c.serverKey);
        if (CollectionStore *s = e->stores.value(c.collection))
            Q_EMIT s->idRemapped(c.clientKey, c.serverKey);
        Q_EMIT e->q->idRemapped(c.collection, c.clientKey, c.serverKey);
    }
    for (ConflictRecord &c : e->conflicts)
        changes.apply(c);
    for (CollectionStore *s : std::as_const(e->stores))
        s->setPendingTransactions(e->outbox.activeIn(s->name()));
    refreshSyncStates(syncStateOnly);
    updateConflicts(writes);
    for (const TransactionWrite &w : std::as_const(writes)) {
        // The current record: a slot reacting to an earlier handle may have moved it on.
        const TransactionRecord *current = e->outbox.record(w.record.id);
        if (Transaction *t = e->outbox.handle(w.record.id); t && current)
            publish(t, *current);
    }
    e->updateStatusCounts();
    if (released) {
        e->push.compactBeforeNextBatch();
        e->scheduler.readyToSync();
    }
    return true;
}

bool Settlement::remapOutcome(Outcome &outcome, const Remapping::KeyChanges &changes,
                              ItemKeys *referencing,
                              QHash<QString, Remapping::KeyChange> *renamed)
{
    QSet<QString> inOutcome;
    for (TransactionWrite &w : outcome.transactions) {
        inOutcome.insert(w.record.id);
        w.rewritten = changes.apply(w.record) || w.rewritten;
    }
    // Every other transaction held: pending ones go out under the server keys, finished ones
    // show them (a dead letter retried later sends them too).
    for (const QString &id : e->outbox.inCommitOrder()) {
        if (inOutcome.contains(id))
            continue;
        TransactionRecord record = *e->outbox.record(id);
        if (!changes.apply(record))
            continue;
        TransactionWrite w { std::move(record), {} };
        w.rewritten = true;
        outcome.transactions.append(std::move(w));
    }
    for (Persisted &p : outcome.persisted)
        changes.apply(p.mutation);
    for (ServerState &s : outcome.serverStates)
        s.key = changes.resolve(s.collection, s.key);
    for (const Remapping::KeyChange &c : changes.list()) {
        renamed->insert(itemId(c.collection, c.serverKey), c);
        for (const Remapping::Relation &r : std::as_const(e->relations)) {
            if (r.target != c.collection)
                continue;
            QStringList keys;
            const SyncError error =
                    e->db->referencing(r.collection, e->scopeId, r.field, c.clientKey, &keys);
            if (error.isError()) {
                e->report(error);
                return false;
            }
            for (const QString &key : std::as_const(keys)) {
                const QString current = changes.resolve(r.collection, key);
                referencing->insert(itemId(r.collection, current), { r.collection, current });
            }
        }
    }
    return true;
}

void Settlement::addConsequences(QList<TransactionWrite> &writes) const
{
    QHash<QString, qsizetype> written;
    for (qsizetype i = 0; i < writes.size(); ++i)
        written.insert(writes.at(i).record.id, i);
    auto current = [&](const QString &id) -> const TransactionRecord * {
        const auto w = written.constFind(id);
        return w != written.cend() ? &writes.at(*w).record : e->outbox.record(id);
    };
    auto put = [&](const TransactionRecord &r) {
        const auto w = written.constFind(r.id);
        if (w != written.cend()) {
            writes[*w].record = r;
        } else {
            written.insert(r.id, writes.size());
            writes.append({ r, {} });
        }
    };

    for (qsizetype i = 0; i < writes.size(); ++i) {
        const TransactionRecord now = writes.at(i).record; // a copy: writes may grow
        const TransactionRecord *before = e->outbox.record(now.id);
        if (!before)
            continue;
        const bool failedNow = now.state == TransactionState::Failed
                && before->state != TransactionState::Failed;
        const bool doneNow = now.state == TransactionState::Completed
                && before->state != TransactionState::Completed;
        const bool unlocked = Ordering::locks(*before) && !Ordering::locks(now);
        if (!failedNow && !doneNow && !unlocked)
            continue;

        // Transactions absorbed by compaction end the way the one carrying their change ends.
        if (failedNow || doneNow) {
            for (const QString &id : e->outbox.absorbedInto(now.id)) {
                const TransactionRecord *a = current(id);
                if (!a || !isActive(a->state))
                    continue;
                TransactionRecord r = *a;
                if (doneNow ? Lifecycle::settleUnsent(r, now.updatedAt)
                            : Lifecycle::fail(r, now.error, now.updatedAt))
                    put(r);
            }
        }
        // Ordered: what was queued behind it fails with it, or moves on.
        for (const QString &id : e->outbox.queuedBehind(now.id)) {
            const TransactionRecord *w = current(id);
            if (!w || w->state != TransactionState::Queued || w->queuedBehind != now.id)
                continue;
            TransactionRecord r = *w;
            if (failedNow) {
                const QString cause = now.error.transactionId().isEmpty()
                        ? now.id
                        : now.error.transactionId();
                if (Lifecycle::dependencyFailed(r, cause, now.error, now.updatedAt))
                    put(r);
                continue;
            }
            if (now.state == TransactionState::Failed)
                continue; // stays queued behind a failure until it is retried or discarded
            // What does it wait for now?
            QList<Ordering::Entry> holding;
            for (const Ordering::Entry &h : e->outbox.holders(r)) {
                if (const TransactionRecord *hr = current(h.id))
                    holding.append(Ordering::Entry::of(*hr, h.keys));
            }
            const QString behind = Ordering::blockerFor(Ordering::Entry::of(r), holding);
            if (behind.isEmpty() ? Lifecycle::release(r, now.updatedAt)
                                 : Lifecycle::queue(r, behind, now.updatedAt))
                put(r);
        }
    }
}

void Settlement::updateConflicts(const QList<TransactionWrite> &writes)
{
    for (const TransactionWrite &w : writes) {
        if (w.conflictResolved) {
            for (qsizetype i = e->conflicts.size() - 1; i >= 0; --i) {
                if (e->conflicts.at(i).transactionId != w.record.id)
                    continue;
                const QString id = e->conflicts.takeAt(i).id;
                Q_EMIT e->q->conflictRemoved(id);
            }
        }
        if (w.conflict) {
            e->conflicts.append(*w.conflict);
            Q_EMIT e->q->conflictAdded(w.conflict->toVariantMap());
        }
    }
}

void Settlement::publish(Transaction *t, const TransactionRecord &record)
{
    const TransactionState before = t->record().state;
    const bool attemptsChanged = t->record().attempts.size() != record.attempts.size()
            || t->record().currentAttempt != record.currentAttempt;
    TransactionPrivate::get(t)->setRecord(record);
    if (attemptsChanged && !record.attempts.isEmpty()
        && !record.attempts.constLast().completedAt.isValid())
        e->emitEvent(QStringLiteral("attemptStarted"), record);
    if (before != record.state) {
        if (record.state == TransactionState::Pending && !record.attempts.isEmpty()
            && record.attempts.constLast().retryScheduledFor.isValid()
            && before == TransactionState::Persisting)
            e->emitEvent(QStringLiteral("retryScheduled"), record);
        e->emitEvent(QStringLiteral("stateChanged"), record);
        Q_EMIT e->q->transactionStateChanged(t->id(), t->state());
        if (record.state == TransactionState::Failed) {
            for (const QString &collection : record.collections()) {
                if (CollectionStore *s = e->stores.value(collection))
                    Q_EMIT s->transactionFailed(t);
            }
        }
    }
    Q_EMIT e->q->transactionChanged(t);
}

void Settlement::refreshSyncStates(const QList<MutationRecord> &mutations)
{
    if (mutations.isEmpty())
        return;
    QHash<CollectionStore *, QList<RowSyncState>> perStore;
    QSet<QString> seen;
    for (const MutationRecord &m : mutations) {
        const QString id = itemId(m.collection, m.key);
        CollectionStore *s = e->stores.value(m.collection);
        if (!s || seen.contains(id))
            continue;
        seen.insert(id);
        const Outbox::Pending *p = e->outbox.pendingOn(id);
        perStore[s].append({ m.key, p ? p->transactionCount() : 0, e->outbox.isSyncing(id),
                             p && e->outbox.inConflict(id), e->outbox.failureOn(id) });
    }
    for (auto it = perStore.cbegin(); it != perStore.cend(); ++it)
        it.key()->applySyncStates(it.value());
}

} // namespace Synq
