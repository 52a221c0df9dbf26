// SPDX-License-Identifier: BSD-3-Clause
// What SyncEnginePrivate does itself: opening and closing the database, loading a scope (its
// outbox into the Outbox, its rows into the collection stores) with the recovery of work a
// crash or a close cut short, and what the parts share: a row's state, errors, status counts
// and the transaction event stream.

#include "syncengine_p.h"

#include "syncstatus_p.h"
#include "transaction_p.h"

#include <synq/identifier.h>
#include <synq/lifecycle.h>
#include <synq/logging_p.h>
#include <synq/overlay.h>

namespace Synq {

SyncEnginePrivate::SyncEnginePrivate(SyncEngine *q) : q(q) { }

SyncEnginePrivate::~SyncEnginePrivate() = default;

bool SyncEnginePrivate::ensureOpen()
{
    if (db)
        return true;
    const QString file = q->databasePath();
    if (file.isEmpty()) {
        report(SyncError(SyncError::Storage,
                         SyncEngine::tr("No database path is set and the system has no "
                                        "application data folder.")));
        return false;
    }
    auto database = std::make_unique<SyncDatabase>(file);
    SyncError error = database->open(durability == SyncEngine::Full
                                             ? SyncDatabase::Synchronous::Full
                                             : SyncDatabase::Synchronous::Normal);
    if (error.isError()) {
        database.reset();
        report(error);
        return false;
    }
    db = std::move(database);
    qCDebug(lcEngine) << "opened" << file;
    loadScope();
    Q_EMIT q->readyChanged();
    scheduler.readyToSync();
    return true;
}

void SyncEnginePrivate::closeDatabase()
{
    if (!db)
        return;
    run.abandon(); // answers to requests of this run are dropped
    delivery.clear();
    pull.stopApplyThread();
    for (CollectionStore *s : std::as_const(stores))
        s->clear();
    forgetTransactions();
    db.reset();
    updateStatusCounts();
    Q_EMIT q->transactionsReset();
    Q_EMIT q->readyChanged();
}

void SyncEnginePrivate::loadScope()
{
    // Whatever a run was doing belongs to the previous scope.
    run.abandon();
    delivery.clear();
    forgetTransactions();

    QList<TransactionRecord> records;
    const SyncError error = db->loadTransactions(scopeId, false, &records);
    if (error.isError())
        report(error);
    for (const TransactionRecord &record : std::as_const(records)) {
        outbox.add(TransactionPrivate::create(record, q), record);
        seeStamp(record.hlc); // the clock never goes back across a restart
    }
    conflicts.clear();
    if (const SyncError e = db->loadConflicts(scopeId, &conflicts); e.isError())
        report(e);
    if (const SyncError e = db->loadIdMap(scopeId, &idMap); e.isError())
        report(e);
    Q_EMIT q->conflictsReset();
    for (CollectionStore *s : std::as_const(stores))
        loadStore(s);
    updateStatusCounts();
    Q_EMIT q->transactionsReset();
    recover(records);
}

// Recovery after a crash or a close. Nothing is in flight when a scope loads: an attempt cut
// short ends, and the transaction is pending again with the same mutation ids (the server
// deduplicates whatever it did receive). One whose persist succeeded and that was waiting for
// its change to come back is taken as done.
void SyncEnginePrivate::recover(const QList<TransactionRecord> &records)
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QList<Settlement::TransactionWrite> recovered;
    for (const TransactionRecord &record : records) {
        TransactionRecord r = record;
        if (Lifecycle::interrupted(r, now) || Lifecycle::synced(r, now)) {
            recovered.append({ r, {} });
        } else if (r.state == TransactionState::Queued) {
            // Waits only for an earlier transaction that is still unfinished.
            const QString behind =
                    Ordering::blockerFor(Ordering::Entry::of(r), outbox.holders(r));
            if (behind != r.queuedBehind
                && (behind.isEmpty() ? Lifecycle::release(r, now)
                                     : Lifecycle::queue(r, behind, now)))
                recovered.append({ r, {} });
        }
    }
    if (!recovered.isEmpty())
        settlement.apply(recovered);
}

void SyncEnginePrivate::forgetTransactions()
{
    for (const QString &id : outbox.inCommitOrder()) {
        if (Transaction *t = outbox.handle(id))
            t->deleteLater();
    }
    for (Transaction *t : std::as_const(looked))
        t->deleteLater();
    looked.clear();
    outbox.clear();
}

// Stored rows as the store holds them. Rows with active transactions show their synced state
// with those folded over it: the stored overlay may predate a pulled change that landed just
// before a crash.
bool SyncEnginePrivate::loadRows(CollectionStore *s, qint64 after, qint64 upTo, int limit,
                                 QList<StoreRow> *rows)
{
    QList<SyncDatabase::StoredItem> items;
    const SyncError error = db->loadItems(s->name(), scopeId, &items, after, upTo, limit);
    if (error.isError()) {
        report(error);
        return false;
    }
    rows->reserve(rows->size() + items.size());
    for (SyncDatabase::StoredItem &item : items) {
        StoreRow row;
        row.ord = item.ord;
        row.key = std::move(item.key);
        row.version = item.version;
        row.optimistic = item.optimistic;
        row.json = std::move(item.json);
        const QString id = itemId(s->name(), row.key);
        if (const Outbox::Pending *p = outbox.pendingOn(id)) {
            row.pending = p->transactionCount();
            row.syncing = outbox.isSyncing(id);
            row.conflict = outbox.inConflict(id);
            const std::optional<QJsonObject> synced =
                    item.optimistic ? item.synced : std::optional<QJsonObject>(row.data());
            if (const std::optional<QJsonObject> visible = merged(s->name(), synced, p->mutations))
                row.setData(*visible);
        }
        if (outbox.failedCount() > 0)
            row.lastError = outbox.failureOn(id);
        rows->append(std::move(row));
    }
    return true;
}

void SyncEnginePrivate::loadStore(CollectionStore *s)
{
    s->setLoader(
            [this, s](qint64 after, qint64 upTo, int limit, QList<StoreRow> *rows) {
                return db && loadRows(s, after, upTo, limit, rows);
            },
            [this, s](const QString &key) -> qint64 {
                qint64 ord = 0;
                if (!db)
                    return 0;
                if (const SyncError error = db->visibleOrd(s->name(), scopeId, key, &ord);
                    error.isError())
                    report(error);
                return ord;
            });
    // The first rows now; the rest as views scroll to them (CollectionStore::fetchMore).
    qint64 windowEnd = 0;
    QList<StoreRow> rows;
    SyncError error = db->lastOrd(s->name(), scopeId, &windowEnd);
    if (error.isError() || !loadRows(s, 0, windowEnd, InitialRows, &rows)) {
        if (error.isError())
            report(error);
        s->clear();
        return;
    }
    const qint64 loadedUpTo = CollectionStore::loadedUpTo(rows, InitialRows, windowEnd);
    s->reset(std::move(rows), outbox.activeIn(s->name()), loadedUpTo, windowEnd,
             fillingInsideMutation);
}

CollectionStore *SyncEnginePrivate::store(const QString &collection)
{
    if (CollectionStore *s = stores.value(collection))
        return s;
    if (!isValidIdentifier(collection)) {
        report(SyncError(SyncError::Validation,
                         SyncEngine::tr("\"%1\" is not a valid collection name: use letters, "
                                        "digits and underscores, starting with a letter.")
                                 .arg(collection)));
        return nullptr;
    }
    auto *s = new CollectionStore(collection, q);
    stores.insert(collection, s);
    if (db)
        loadStore(s);
    return s;
}

std::optional<QJsonObject> SyncEnginePrivate::merged(const QString &collection,
                                                    const std::optional<QJsonObject> &synced,
                                                    const QList<MutationRecord> &pending) const
{
    const auto c = configs.constFind(collection);
    if (c != configs.cend() && c->merge)
        return c->merge(synced, pending);
    return Overlay::visibleState(synced, pending);
}

RowState SyncEnginePrivate::rowState(const QString &collection, const QString &key,
                                     const std::optional<QJsonObject> &synced, qint64 version,
                                     qint64 ord) const
{
    const QString id = itemId(collection, key);
    const Outbox::Pending *p = outbox.pendingOn(id);
    RowState r;
    r.key = key;
    r.ord = ord;
    r.version = version;
    r.conflict = p && outbox.inConflict(id);
    if (p && r.conflict && !synced) {
        // The server deleted the row while the app decides on an update held for it
        // (Manual): the row keeps showing the change as the user made it.
        QList<MutationRecord> shown = p->mutations;
        for (MutationRecord &m : shown) {
            const TransactionRecord *t = outbox.record(m.transactionId);
            if (m.type == MutationType::Update && t && awaitsResolution(*t))
                m.type = MutationType::Insert; // (modified: the whole record after the change)
        }
        r.visible = merged(collection, synced, shown);
    } else {
        r.visible = p ? merged(collection, synced, p->mutations) : synced;
    }
    r.pending = p ? p->transactionCount() : 0;
    r.optimistic = p != nullptr;
    r.syncing = p && outbox.isSyncing(id);
    if (outbox.failedCount() > 0)
        r.lastError = outbox.failureOn(id);
    return r;
}

QString SyncEnginePrivate::nextStamp()
{
    if (clientId.isEmpty() && db) {
        // The node of this replica's stamps (made once per database, kept in meta).
        if (const SyncError error = db->clientId(&clientId); error.isError())
            report(error);
    }
    clock = HybridClock::tick(clock, QDateTime::currentMSecsSinceEpoch(), clientId);
    return HybridClock::format(clock);
}

void SyncEnginePrivate::seeStamp(const QString &stamp)
{
    if (stamp.isEmpty())
        return;
    const std::optional<HybridClock::Timestamp> remote = HybridClock::parse(stamp);
    if (!remote)
        return;
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    if (remote->node == clientId) {
        // One of ours (loaded at start): the clock goes on from it.
        if (HybridClock::compare(*remote, clock) > 0)
            clock = *remote;
        return;
    }
    if (const auto next = HybridClock::receive(clock, *remote, now, clientId))
        clock = *next;
    else
        qCWarning(lcEngine) << "a stamp more than a minute ahead of this clock is not followed:"
                            << stamp;
}

void SyncEnginePrivate::report(const SyncError &error)
{
    qCWarning(lcEngine).noquote() << error.toString();
    statusData()->setLastError(error);
    Q_EMIT q->errorOccurred(error);
}

SyncStatusPrivate *SyncEnginePrivate::statusData() const
{
    return SyncStatusPrivate::get(status);
}

void SyncEnginePrivate::updateStatusCounts()
{
    statusData()->setPendingCount(outbox.activeCount());
    statusData()->setFailedCount(outbox.failedCount());
    statusData()->setConflictCount(int(conflicts.size()));
}

void SyncEnginePrivate::emitEvent(const QString &type, const TransactionRecord &record)
{
    QVariantMap event {
        { QStringLiteral("type"), type },
        { QStringLiteral("transactionId"), record.id },
        { QStringLiteral("state"), int(record.state) },
        { QStringLiteral("stateName"), nameOf(record.state) },
        { QStringLiteral("at"), QDateTime::currentDateTimeUtc() },
        { QStringLiteral("attempt"), record.currentAttempt },
    };
    if (record.error.isError())
        event.insert(QStringLiteral("error"), QVariant::fromValue(record.error));
    if (!record.queuedBehind.isEmpty())
        event.insert(QStringLiteral("queuedBehind"), record.queuedBehind);
    if (!record.attempts.isEmpty() && record.attempts.constLast().retryScheduledFor.isValid()
        && record.state == TransactionState::Pending)
        event.insert(QStringLiteral("retryScheduledFor"),
                     record.attempts.constLast().retryScheduledFor);
    Q_EMIT q->transactionEvent(event);
}

} // namespace Synq
