// SPDX-License-Identifier: BSD-3-Clause
// The sync run of a SyncEngine: push the outbox, then pull every collection.

#include "pullapplier_p.h"
#include "syncengine_p.h"

#include <synq/compaction.h>
#include <synq/keygenerator.h>
#include <synq/lifecycle.h>
#include <synq/overlay.h>
#include <synq/retrypolicy.h>

#include <QtCore/QLoggingCategory>
#include <QtCore/QRandomGenerator>

#include <atomic>
#include <climits>

Q_LOGGING_CATEGORY(lcPush, "synq.push", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPull, "synq.pull", QtInfoMsg)

namespace Synq {

namespace {

// Rows handed to the models per event-loop turn: keeps every turn short (L3). 250 rows take
// 2 - 5 ms on the 2-core bench machine while the server, the decoder and the apply thread run.
constexpr int DeliveryChunk = 250;
// Pages per collection and run (L2); a run that stops early leaves the rest to the next one.
constexpr int PagesPerRun = 1000;
constexpr int PageSize = 500;

} // namespace

void PullApplier::apply(quint64 serial, const QString &scope, const QString &collection,
                        const Protocol::PullResponse &page)
{
    QList<SyncDatabase::SyncedWrite> writes;
    writes.reserve(page.changes.size());
    qint64 maxVersion = 0;
    for (const Protocol::Change &c : page.changes) {
        SyncDatabase::SyncedWrite w;
        w.collection = collection;
        w.key = c.key;
        w.version = c.version;
        if (!c.deleted)
            w.synced = c.data;
        maxVersion = qMax(maxVersion, c.version);
        writes.append(std::move(w));
    }
    const SyncDatabase::CursorWrite cursor { collection, page.cursor, maxVersion };
    const SyncError error = m_db->writeSynced(scope, {}, &writes, &cursor);
    Q_EMIT applied(serial, collection, error.isError() ? QList<SyncDatabase::SyncedWrite>() : writes,
                   page.hasMore, error);
}

void PullApplier::release()
{
    m_db->releaseThreadConnection();
}

bool SyncEnginePrivate::canRun() const
{
    if (!db)
        return false;
    if (transport)
        return true;
    for (const CollectionConfig &c : configs) {
        if (c.persist)
            return true;
    }
    return false;
}

void SyncEnginePrivate::scheduleSync(int delayMs)
{
    if (!canRun())
        return;
    if (!syncTimer) {
        syncTimer = new QTimer(q);
        syncTimer->setSingleShot(true);
        QObject::connect(syncTimer, &QTimer::timeout, q, [this] { startRun(false); });
    }
    // An earlier run keeps its place; a later request never postpones it.
    if (syncTimer->isActive() && syncTimer->remainingTime() <= delayMs)
        return;
    syncTimer->start(qMax(0, delayMs));
}

void SyncEnginePrivate::startRun(bool force)
{
    if (running) {
        again = true;
        forceAgain = forceAgain || force;
        return;
    }
    if (!ensureOpen() || !canRun())
        return;
    if (transport && clientId.isEmpty()) {
        const SyncError error = db->clientId(&clientId);
        if (error.isError()) {
            report(error);
            return;
        }
    }
    running = true;
    again = false;
    forceDue = force || forceAgain;
    forceAgain = false;
    ++runSerial;
    runBatchLimit = 0;
    triedThisRun.clear();
    pushesInFlight = 0;
    itemsInFlight.clear();
    stopping = false;
    stopError = SyncError();
    authRetried = false;
    pushesSent = 0;
    firstPushAfterAuth = 0;
    compactAgain = true; // once before the first batch, and again after releases
    runReport = { { QStringLiteral("pushed"), 0 }, { QStringLiteral("pulled"), 0 },
                  { QStringLiteral("conflicts"), 0 }, { QStringLiteral("failed"), 0 } };
    runClock.start();
    status->setSyncing(true);
    Q_EMIT q->syncStarted();
    pushNext();
}

static void bump(QVariantMap &report, const char *name, int by = 1)
{
    const QString key = QString::fromLatin1(name);
    report.insert(key, report.value(key).toInt() + by);
}

double SyncEnginePrivate::random01() const
{
    return QRandomGenerator::global()->generateDouble();
}

void SyncEnginePrivate::compact()
{
    // P2: what can be merged or dropped before anything is sent. Transactions already
    // absorbed into another stay out of the plan: they travel with their survivor.
    QList<TransactionRecord> outbox;
    for (const QString &id : std::as_const(transactionOrder)) {
        const Transaction *t = transactions.value(id);
        if (t && isActive(t->record().state) && t->record().mergedInto.isEmpty())
            outbox.append(t->record());
    }
    const Compaction::Plan plan = Compaction::plan(outbox);
    if (plan.isEmpty())
        return;
    const SyncError error = db->writeCompaction(plan);
    if (error.isError()) {
        report(error);
        return; // nothing was written: the outbox goes out uncompacted
    }
    for (const Compaction::Merge &merge : plan.merges) {
        if (Transaction *survivor = transactions.value(merge.survivor)) {
            TransactionRecord record = survivor->record();
            record.mutations[0] = merge.mutation;
            record.updatedAt = merge.mutation.updatedAt;
            survivor->setRecord(record);
        }
        for (const QString &id : merge.absorbed) {
            absorbedBy.insert(merge.survivor, id);
            if (Transaction *t = transactions.value(id)) {
                TransactionRecord record = t->record();
                record.mergedInto = merge.survivor;
                t->setRecord(record);
            }
        }
        // The row's pending list keeps every change (they fold to the same state); the
        // survivor's entry now carries the merged one.
        ItemActivity &a = activity[itemId(merge.mutation.collection, merge.mutation.key)];
        for (MutationRecord &m : a.pending) {
            if (m.id == merge.mutation.id)
                m = merge.mutation;
        }
    }
    qCDebug(lcPush) << "compaction:" << plan.merges.size() << "merges," << plan.cancelled.size()
                    << "cancelled";
    if (!plan.cancelled.isEmpty()) {
        // Never sent, never needed: an insert and its removal of an item the server never saw.
        const QDateTime now = QDateTime::currentDateTimeUtc();
        QList<TransactionWrite> writes;
        for (const QString &id : plan.cancelled) {
            const Transaction *t = transactions.value(id);
            TransactionRecord record = t ? t->record() : TransactionRecord();
            if (t && Lifecycle::settleUnsent(record, now))
                writes.append({ record, {} });
        }
        settle(writes);
    }
}

void SyncEnginePrivate::pushNext()
{
    if (stopping)
        return; // the last answer on its way ends the run
    if (compactAgain) {
        compactAgain = false;
        compact();
    }

    // FIFO, whole transactions, up to the batch size; ordered ones never overtake a change to
    // their items (Ordering::nextBatch).
    const int limit = runBatchLimit > 0 ? runBatchLimit : (transport ? transport->batchSize() : 100);
    const QDateTime now = QDateTime::currentDateTimeUtc();
    // The unfinished transactions in commit order (finished ones leave the list here, so a long
    // push does not walk its completed part again and again).
    QList<Ordering::Entry> outbox;
    QSet<QString> skip = triedThisRun;
    const QDateTime dueBy = forceDue ? now.addYears(100) : now;
    QStringList stillActive;
    stillActive.reserve(outboxOrder.size());
    for (const QString &id : std::as_const(outboxOrder)) {
        const Transaction *t = transactions.value(id);
        if (!t || !isActive(t->record().state))
            continue;
        stillActive.append(id);
        if (!t->record().mergedInto.isEmpty())
            continue;
        const TransactionRecord &r = t->record();
        outbox.append(Ordering::Entry::of(r, keysById.value(id)));
        if (!transport && !config(firstCollection(r)).persist)
            skip.insert(id); // nowhere to send it yet
    }
    outboxOrder = std::move(stillActive);
    // syncNow() sends what waits for a scheduled retry too; automatic runs keep the schedule.
    const Ordering::Batch batch = Ordering::nextBatch(outbox, limit, dueBy, skip);
    // Beside a push on its way, only a batch with none of its items: otherwise this one waits
    // for that answer (an item's changes reach the backend in order).
    QSet<QString> items;
    if (pushesInFlight > 0) {
        for (const QString &id : batch.send) {
            for (const MutationRecord &m : transactions.value(id)->record().mutations)
                items.insert(itemId(m.collection, m.key));
        }
        if (batch.send.isEmpty() || items.intersects(itemsInFlight))
            return;
    }

    QList<TransactionWrite> writes;
    for (const auto &[id, behind] : batch.queue) {
        TransactionRecord record = transactions.value(id)->record();
        if (Lifecycle::queue(record, behind, now))
            writes.append({ record, {} });
    }
    if (batch.send.isEmpty()) {
        if (!writes.isEmpty())
            settle(writes);
        if (!transport) {
            finishRun(SyncError());
            return;
        }
        pullQueue = stores.keys();
        pullQueue.sort();
        pagesLeft = PagesPerRun;
        pullNext();
        return;
    }

    Protocol::PushRequest request;
    request.client = clientId;
    QStringList viaTransport;
    QList<QPair<QString, QString>> viaHandler; // (transaction, attempt)
    for (const QString &id : batch.send) {
        TransactionRecord record = transactions.value(id)->record();
        const QString attemptId = KeyGenerator::global().next();
        Lifecycle::startAttempt(record, attemptId, now);
        writes.append({ record, {} });
        triedThisRun.insert(id); // one attempt per run: a retry waits for a later one
        if (config(firstCollection(record)).persist) {
            viaHandler.append({ id, attemptId });
            continue;
        }
        viaTransport.append(id);
        for (const MutationRecord &m : std::as_const(record.mutations)) {
            Protocol::PushMutation pm;
            pm.id = m.id;
            pm.tx = record.id;
            pm.collection = m.collection;
            pm.op = m.type;
            pm.key = m.key;
            pm.baseVersion = m.baseVersion;
            pm.data = m.type == MutationType::Insert ? m.modified : m.changes;
            request.mutations.append(pm);
        }
    }
    if (!settle(writes)) {
        stopPushing(status->lastError());
        return;
    }

    const quint64 run = runSerial;
    // Persist functions answer whenever they do: the run does not wait for them (a slow API
    // must not hold back everything else); their transactions stay Persisting until then.
    for (const auto &[id, attemptId] : std::as_const(viaHandler))
        callPersistHandler(id, attemptId);
    if (viaTransport.isEmpty()) {
        QMetaObject::invokeMethod(
                q, [this, run] { if (sameRun(run)) pushNext(); }, Qt::QueuedConnection);
        return;
    }
    request.batch = Protocol::batchId(request.mutations);
    qCDebug(lcPush) << "pushing" << request.mutations.size() << "mutations of"
                    << viaTransport.size() << "transactions, batch" << request.batch;
    const QString scopeAtStart = scopeId;
    if (items.isEmpty()) {
        for (const Protocol::PushMutation &m : std::as_const(request.mutations))
            items.insert(itemId(m.collection, m.key));
    }
    ++pushesInFlight;
    itemsInFlight.unite(items);
    const quint64 serial = ++pushesSent;
    // The transport may outlive the engine: an answer after that finds no engine to touch.
    const QPointer<SyncEngine> engine(q);
    transport->push(request, [this, engine, run, scopeAtStart, viaTransport, request, items,
                              serial](const Protocol::PushResponse &response,
                                      const SyncError &error) {
        if (!engine || !sameRun(run))
            return; // the engine moved on; the transactions resume after a reload
        --pushesInFlight;
        itemsInFlight.subtract(items);
        if (scopeAtStart != scopeId || !db)
            return;
        onPushed(viaTransport, request, serial, response, error);
    });
    // (An answer may have come inside push(), and ended the run.)
    if (sameRun(run) && transport && pushesInFlight > 0
        && pushesInFlight < transport->maxPushesInFlight())
        pushNext();
}

void SyncEnginePrivate::stopPushing(const SyncError &error)
{
    if (!stopping)
        stopError = error;
    stopping = true;
    if (pushesInFlight == 0)
        finishRun(stopError);
}

void SyncEnginePrivate::callPersistHandler(const QString &id, const QString &attemptId)
{
    Transaction *t = transactions.value(id);
    const SyncEngine::PersistHandler handler = config(firstCollection(t->record())).persist;
    // The handler may answer at once, later, or (wrongly) twice: only the first answer to
    // this attempt counts, and it always lands on the engine's thread.
    auto answered = std::make_shared<std::atomic_bool>(false);
    QPointer<SyncEngine> engine(q);
    const QString scopeAtStart = scopeId;
    auto done = [this, engine, answered, id, attemptId, scopeAtStart](const SyncError &error) {
        if (answered->exchange(true))
            return;
        if (!engine)
            return;
        QMetaObject::invokeMethod(
                engine,
                [this, id, attemptId, scopeAtStart, error] {
                    if (scopeAtStart != scopeId || !db)
                        return;
                    onPersisted(id, attemptId, error);
                },
                Qt::QueuedConnection);
    };
    handler(t, done);
}

void SyncEnginePrivate::roundDone(quint64 run)
{
    if (!sameRun(run))
        return;
    if (stopping) {
        if (pushesInFlight == 0)
            finishRun(stopError);
        return;
    }
    pushNext();
}

void SyncEnginePrivate::onPersisted(const QString &id, const QString &attemptId,
                                    const SyncError &error)
{
    Transaction *t = transactions.value(id);
    if (!t || t->record().state != TransactionState::Persisting
        || t->record().attempts.isEmpty() || t->record().attempts.constLast().id != attemptId)
        return; // settled otherwise meanwhile (a reload made it pending again)
    TransactionRecord record = t->record();
    const QDateTime now = QDateTime::currentDateTimeUtc();
    if (error.isError()) {
        const auto outcome =
                Lifecycle::attemptFailed(record, error, retryPolicy->settings(), now, random01());
        if (outcome == Lifecycle::FailureOutcome::Failed)
            bump(runReport, "failed");
        settle({ { record, {} } });
        const QDateTime due = Lifecycle::dueAt(record);
        if (due.isValid() && autoSync)
            scheduleSync(int(qBound(qint64(0), now.msecsTo(due), qint64(INT_MAX))));
        return;
    }
    // Persisted by the app's own code: its change is the synced state now, at the version the
    // replica has (a later sync brings the server's).
    bool await = false;
    QList<Applied> applied;
    for (const MutationRecord &m : std::as_const(record.mutations)) {
        await = await || config(m.collection).awaitSync;
        applied.append({ m, -1 }); // no version known: the stored one stays
    }
    Lifecycle::persisted(record, await, now);
    bump(runReport, "pushed", int(record.mutations.size()));
    settle({ { record, {} } }, {}, {}, true, applied);
}

RowState SyncEnginePrivate::rowState(CollectionStore *s, const QString &key,
                                     const std::optional<QJsonObject> &synced, qint64 version,
                                     qint64 ord) const
{
    const auto a = activity.constFind(itemId(s->name(), key));
    const bool active = a != activity.cend();
    RowState r;
    r.key = key;
    r.ord = ord;
    r.version = version;
    r.visible = active ? merged(s->name(), synced, a->pending) : synced;
    r.pending = active ? a->transactionCount() : 0;
    r.optimistic = active;
    return r;
}

bool SyncEnginePrivate::isLocked(const QString &item) const
{
    const auto a = activity.constFind(item);
    if (a == activity.cend())
        return false;
    for (const MutationRecord &m : a->pending) {
        const Transaction *t = transactions.value(m.transactionId);
        if (t && Ordering::locks(t->record()))
            return true;
    }
    return false;
}

void SyncEnginePrivate::expand(QList<TransactionWrite> &writes) const
{
    QHash<QString, qsizetype> written;
    for (qsizetype i = 0; i < writes.size(); ++i)
        written.insert(writes.at(i).record.id, i);
    auto current = [&](const QString &id) -> const TransactionRecord * {
        const auto w = written.constFind(id);
        if (w != written.cend())
            return &writes.at(*w).record;
        const Transaction *t = transactions.value(id);
        return t ? &t->record() : nullptr;
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
        const Transaction *t = transactions.value(now.id);
        if (!t)
            continue;
        const TransactionState before = t->record().state;
        const bool failedNow = now.state == TransactionState::Failed
                && before != TransactionState::Failed;
        const bool doneNow = now.state == TransactionState::Completed
                && before != TransactionState::Completed;
        const bool unlocked = Ordering::locks(t->record()) && !Ordering::locks(now);
        if (!failedNow && !doneNow && !unlocked)
            continue;

        // Transactions absorbed by compaction end the way the one carrying their change ends.
        if (failedNow || doneNow) {
            for (const QString &id : absorbedBy.values(now.id)) {
                const TransactionRecord *a = current(id);
                if (!a || !isActive(a->state))
                    continue;
                TransactionRecord r = *a;
                if (doneNow ? Lifecycle::settleUnsent(r, now.updatedAt)
                            : Lifecycle::fail(r, now.error, now.updatedAt))
                    put(r);
            }
        }
        // Ordered: what was queued behind it fails with it (T3), or moves on.
        const QStringList waiting = waitingFor.values(now.id);
        QList<QPair<qint64, QString>> sorted;
        for (const QString &id : waiting)
            sorted.append({ orderOf.value(id), id });
        std::sort(sorted.begin(), sorted.end());
        for (const auto &[order, id] : std::as_const(sorted)) {
            const TransactionRecord *w = current(id);
            if (!w || w->state != TransactionState::Queued || w->queuedBehind != now.id)
                continue;
            TransactionRecord r = *w;
            if (failedNow) {
                const QString cause = now.error.transactionId().isEmpty() ? now.id
                                                                          : now.error.transactionId();
                if (Lifecycle::dependencyFailed(r, cause, now.error, now.updatedAt))
                    put(r);
                continue;
            }
            if (now.state == TransactionState::Failed)
                continue; // stays queued behind a failure until it is retried or discarded
            // What does it wait for now?
            QList<Ordering::Entry> holding;
            for (const Ordering::Entry &e : holders(r)) {
                const TransactionRecord *h = current(e.id);
                if (h)
                    holding.append(Ordering::Entry::of(*h));
            }
            const QString behind = Ordering::blockerFor(Ordering::Entry::of(r), holding);
            if (behind.isEmpty() ? Lifecycle::release(r, now.updatedAt)
                                 : Lifecycle::queue(r, behind, now.updatedAt))
                put(r);
        }
    }
}

bool SyncEnginePrivate::settle(QList<TransactionWrite> writes,
                               const QHash<QString, std::optional<QJsonObject>> &synced,
                               const QHash<QString, qint64> &syncedVersions, bool newerOnly,
                               const QList<Applied> &applied)
{
    expand(writes);

    // Memory first (the rows' new states depend on which transactions stay active), then one
    // SQL transaction, then the signals.
    QSet<QString> touched;
    bool released = false;
    for (const TransactionWrite &w : std::as_const(writes)) {
        const Transaction *t = transactions.value(w.record.id);
        if (!t)
            continue;
        const TransactionRecord &old = t->record();
        const bool wasActive = isActive(old.state);
        const bool nowActive = isActive(w.record.state);
        released = released
                || (old.state == TransactionState::Queued && w.record.state == TransactionState::Pending)
                || (!wasActive && nowActive);
        if (wasActive == nowActive) {
            if (!nowActive)
                continue;
            // Still active: the pending list follows its mutations (rebased base versions).
            for (const MutationRecord &m : w.record.mutations) {
                auto a = activity.find(itemId(m.collection, m.key));
                if (a == activity.end())
                    continue;
                for (MutationRecord &p : a->pending) {
                    if (p.id == m.id)
                        p.baseVersion = m.baseVersion;
                }
            }
            continue;
        }
        if (wasActive)
            noteFinished(old);
        else
            noteActive(w.record);
        for (const MutationRecord &m : w.record.mutations)
            touched.insert(itemId(m.collection, m.key));
    }
    for (auto it = synced.cbegin(); it != synced.cend(); ++it)
        touched.insert(it.key());
    QHash<QString, QList<qsizetype>> appliedTo; // item -> its persisted changes, in order
    for (qsizetype i = 0; i < applied.size(); ++i) {
        const QString id = itemId(applied.at(i).mutation.collection, applied.at(i).mutation.key);
        appliedTo[id].append(i);
        touched.insert(id);
    }

    // The synced state each touched row returns to: what the server said (unless the replica
    // already holds a newer version), or what the replica holds.
    QHash<QString, QStringList> byCollection;
    for (const QString &id : std::as_const(touched)) {
        if (!synced.contains(id) || newerOnly) {
            const qsizetype slash = id.indexOf(QLatin1Char('/'));
            byCollection[id.left(slash)].append(id.mid(slash + 1));
        }
    }
    QHash<QString, SyncDatabase::SyncedState> stored;
    for (auto it = byCollection.cbegin(); it != byCollection.cend(); ++it) {
        QHash<QString, SyncDatabase::SyncedState> states;
        const SyncError error = db->loadSynced(it.key(), scopeId, it.value(), &states);
        if (error.isError()) {
            report(error);
            return false;
        }
        for (auto s = states.cbegin(); s != states.cend(); ++s)
            stored.insert(itemId(it.key(), s.key()), s.value());
    }

    QList<SyncDatabase::SyncedWrite> items;
    QList<CollectionStore *> itemStores;
    for (const QString &id : std::as_const(touched)) {
        const qsizetype slash = id.indexOf(QLatin1Char('/'));
        const QString collection = id.left(slash);
        const QString key = id.mid(slash + 1);
        CollectionStore *s = store(collection);
        if (!s)
            continue;
        SyncDatabase::SyncedWrite w;
        w.collection = collection;
        w.key = key;
        const auto have = stored.constFind(id);
        if (synced.contains(id)
            && !(newerOnly && have != stored.cend() && have->version > syncedVersions.value(id))) {
            w.synced = synced.value(id);
            w.version = syncedVersions.value(id);
        } else {
            w.synced = have != stored.cend() ? have->data : std::nullopt;
            w.version = have != stored.cend() ? have->version : 0;
        }
        // Persisted changes: the server applied exactly these changes to the state it had, so
        // the synced state is that state with them — not the row as the user saw it then (which
        // held other pending changes) — unless a newer version is stored already.
        for (const qsizetype i : appliedTo.value(id)) {
            const Applied &a = applied.at(i);
            if (a.version >= 0 && w.version > a.version)
                continue;
            w.synced = Overlay::apply(w.synced, a.mutation);
            if (a.version >= 0)
                w.version = a.version;
        }
        const RowState state = rowState(s, key, w.synced, w.version, 0);
        w.setLocal = true;
        w.local = state.optimistic ? state.visible : std::optional<QJsonObject>();
        if (!state.optimistic)
            w.local = std::optional<std::optional<QJsonObject>>(std::optional<QJsonObject>());
        w.localDeleted = state.optimistic && !state.visible;
        items.append(w);
        itemStores.append(s);
    }

    const SyncError error = db->writeSynced(scopeId, writes, &items);
    if (error.isError()) {
        // Nothing was written: memory goes back to what the file says.
        report(error);
        loadScope();
        return false;
    }

    // The rows first, then the transactions: code reacting to completed() or failed() reads
    // the models in their new state.
    QHash<CollectionStore *, QList<RowState>> perStore;
    for (qsizetype i = 0; i < items.size(); ++i) {
        const SyncDatabase::SyncedWrite &w = items.at(i);
        perStore[itemStores.at(i)].append(
                rowState(itemStores.at(i), w.key, w.synced, w.version, w.ord));
    }
    for (auto it = perStore.cbegin(); it != perStore.cend(); ++it)
        it.key()->applyStates(it.value());
    for (CollectionStore *s : std::as_const(stores))
        s->setPendingTransactions(activeTransactionsIn(s->name()));
    for (const TransactionWrite &w : std::as_const(writes)) {
        if (Transaction *t = transactions.value(w.record.id))
            setRecord(t, w.record);
    }
    updateStatusCounts();
    if (released) {
        compactAgain = true;
        if (autoSync)
            scheduleSync(0);
    }
    return true;
}

void SyncEnginePrivate::onPushed(const QStringList &txIds, const Protocol::PushRequest &request,
                                 quint64 pushSerial, const Protocol::PushResponse &response,
                                 const SyncError &error)
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const RetrySettings &policy = retryPolicy->settings();
    QList<TransactionWrite> writes;
    QHash<QString, std::optional<QJsonObject>> synced;
    QHash<QString, qint64> versions;

    // The attempt is withdrawn: it never reached the server (offline), or it goes again at once.
    auto withdraw = [&](bool again) {
        for (const QString &id : txIds) {
            TransactionRecord record = transactions.value(id)->record();
            const QString attempt = record.attempts.isEmpty() ? QString() : record.attempts.constLast().id;
            if (Lifecycle::unreachable(record, now))
                writes.append({ record, attempt });
            if (again)
                triedThisRun.remove(id);
        }
        settle(writes);
    };

    if (error.isError()) {
        if (error.httpStatus() == 401 && (!authRetried || pushSerial < firstPushAfterAuth)) {
            // The transport asked the app for new credentials (authenticationRequired); the
            // same batch goes out once more with them (S7). A push that was on its way beside
            // it carried the old credentials: it goes again as well.
            if (!authRetried) {
                authRetried = true;
                firstPushAfterAuth = pushesSent + 1;
            }
            withdraw(true);
            roundDone(runSerial);
            return;
        }
        if (error.httpStatus() == 413 && txIds.size() > 1) {
            // Too large: the same transactions again, in smaller batches.
            runBatchLimit = qMax(1, int(request.mutations.size()) / 2);
            withdraw(true);
            roundDone(runSerial);
            return;
        }
        if (error.code() == SyncError::Network && error.httpStatus() == 0) {
            // Offline is not a failure: no retry is used up; the run backs off (S5).
            withdraw(false);
            stopPushing(error);
            return;
        }
        for (const QString &id : txIds) {
            TransactionRecord record = transactions.value(id)->record();
            if (Lifecycle::attemptFailed(record, error, policy, now, random01())
                == Lifecycle::FailureOutcome::Failed)
                bump(runReport, "failed");
            writes.append({ record, {} });
        }
        settle(writes);
        if (error.isRetryable()) {
            stopPushing(error); // the server is in trouble: the rest waits for a later run
            return;
        }
        roundDone(runSerial);
        return;
    }

    // Per transaction: all applied, or the first failure decides.
    QHash<QString, TransactionRecord> rebased; // other active transactions with new base versions
    QList<Applied> applied;
    qsizetype i = 0;
    for (const QString &id : txIds) {
        TransactionRecord record = transactions.value(id)->record();
        const qsizetype first = i;
        const Protocol::PushResult *failure = nullptr;
        for (qsizetype k = 0; k < record.mutations.size(); ++k, ++i) {
            const Protocol::PushResult &r = response.results.at(i);
            if (r.status != Protocol::PushResult::Applied && !failure
                && !(r.status == Protocol::PushResult::Rejected
                     && r.error.code() == SyncError::Cancelled))
                failure = &r;
        }
        if (!failure) {
            bool await = false;
            for (qsizetype k = 0; k < record.mutations.size(); ++k) {
                const MutationRecord &m = record.mutations.at(k);
                const Protocol::PushResult &r = response.results.at(first + k);
                await = await || config(m.collection).awaitSync;
                awaitedVersion.insert(m.id, r.version);
                const QString item = itemId(m.collection, m.key);
                applied.append({ m, r.version });
                // Later pending changes on the row were made on top of this one: they now
                // build on the version it produced.
                const auto a = activity.constFind(item);
                if (a == activity.cend())
                    continue;
                for (const MutationRecord &p : a->pending) {
                    if (p.transactionId == id || p.baseVersion != m.baseVersion)
                        continue;
                    auto other = rebased.find(p.transactionId);
                    if (other == rebased.end())
                        other = rebased.insert(p.transactionId,
                                               transactions.value(p.transactionId)->record());
                    for (MutationRecord &o : other->mutations) {
                        if (o.id == p.id)
                            o.baseVersion = r.version;
                    }
                }
            }
            if (!await) {
                for (const MutationRecord &m : std::as_const(record.mutations))
                    awaitedVersion.remove(m.id);
            }
            Lifecycle::persisted(record, await, now);
            bump(runReport, "pushed", int(record.mutations.size()));
        } else {
            // Retry, or: conflict (server wins: adopt its record) or rejected — the transaction
            // fails and its optimistic changes roll back.
            SyncError e = failure->error;
            if (failure->status == Protocol::PushResult::Conflict) {
                bump(runReport, "conflicts");
                for (const MutationRecord &m : std::as_const(record.mutations)) {
                    if (m.id != failure->id)
                        continue;
                    const QString item = itemId(m.collection, m.key);
                    synced.insert(item, failure->deleted ? std::nullopt : failure->record);
                    versions.insert(item, failure->version);
                }
            }
            if (failure->status != Protocol::PushResult::Retry)
                e.setRetryable(false);
            if (Lifecycle::attemptFailed(record, e, policy, now, random01())
                == Lifecycle::FailureOutcome::Failed)
                bump(runReport, "failed");
        }
        writes.append({ record, {} });
    }
    for (auto it = rebased.cbegin(); it != rebased.cend(); ++it) {
        auto w = std::find_if(writes.begin(), writes.end(),
                              [&](const TransactionWrite &x) { return x.record.id == it.key(); });
        if (w == writes.end()) {
            writes.append({ it.value(), {} });
            continue;
        }
        for (MutationRecord &m : w->record.mutations) {
            for (const MutationRecord &o : it.value().mutations) {
                if (o.id == m.id)
                    m.baseVersion = o.baseVersion;
            }
        }
    }
    settle(writes, synced, versions, true, applied);
    roundDone(runSerial);
}

void SyncEnginePrivate::pullNext()
{
    if (pullQueue.isEmpty()) {
        finishRun(SyncError());
        return;
    }
    const QString collection = pullQueue.constFirst();
    if (pageAhead && pageAhead->run == runSerial && pageAhead->collection == collection) {
        if (!pageAhead->answered) {
            pageAhead->wanted = true;
            return;
        }
        const PageAhead page = std::move(*pageAhead);
        pageAhead.reset();
        onPulled(page.collection, page.request, page.maxVersion, page.response, page.error);
        return;
    }
    pageAhead.reset();
    SyncDatabase::Cursor cursor;
    const SyncError error = db->cursor(collection, scopeId, &cursor);
    if (error.isError()) {
        finishRun(error);
        return;
    }
    requestPage(collection, cursor.cursor, cursor.maxVersion, false);
}

// After a page came: the next one of the same collection, when there is one and this run will
// take it (the cursor and highest version it will be asked from are the ones this page leaves).
void SyncEnginePrivate::prefetchAfter(const QString &collection, qint64 maxVersion,
                                      const Protocol::PullResponse &response)
{
    if (!response.hasMore || pagesLeft <= 1 || response.cursor.isEmpty())
        return;
    for (const Protocol::Change &c : response.changes)
        maxVersion = qMax(maxVersion, c.version);
    requestPage(collection, response.cursor, maxVersion, true);
}

void SyncEnginePrivate::requestPage(const QString &collection, const QString &cursor,
                                    qint64 maxVersion, bool ahead)
{
    Protocol::PullRequest request;
    request.collection = collection;
    request.cursor = cursor;
    request.limit = PageSize;
    const quint64 run = runSerial;
    const quint64 serial = ahead ? ++pageAheadSerial : 0;
    if (ahead)
        pageAhead = PageAhead { run, serial, collection, request, maxVersion, false, false, {}, {} };
    const QString scopeAtStart = scopeId;
    const QPointer<SyncEngine> engine(q); // the transport may outlive the engine
    transport->pull(request, [this, engine, run, serial, scopeAtStart, collection, request, maxVersion](
                                     const Protocol::PullResponse &response, const SyncError &e) {
        if (!engine || !sameRun(run) || scopeAtStart != scopeId || !db)
            return;
        Protocol::PullResponse page = response;
        SyncError error = e;
        if (!e.isError() && !request.cursor.isEmpty()) {
            // Cursors only move forward: a page that goes back means the server lost data.
            for (const Protocol::Change &c : response.changes) {
                if (c.version <= maxVersion) {
                    page = {};
                    error = SyncError(SyncError::Protocol,
                                      SyncEngine::tr("The server's changes went back in time "
                                                     "(version %1 after %2).")
                                              .arg(c.version)
                                              .arg(maxVersion));
                    break;
                }
            }
        }
        if (serial != 0) {
            if (!pageAhead || pageAhead->serial != serial)
                return; // no longer wanted (the run went another way)
            if (!pageAhead->wanted) {
                pageAhead->answered = true;
                pageAhead->response = page;
                pageAhead->error = error;
                return;
            }
            pageAhead.reset();
        }
        onPulled(collection, request, maxVersion, page, error);
    });
}

void SyncEnginePrivate::onPulled(const QString &collection, const Protocol::PullRequest &request,
                                 qint64 maxVersion,
                                 const Protocol::PullResponse &response, const SyncError &error)
{
    if (error.httpStatus() == 410 && !request.cursor.isEmpty()) {
        // resync-required: the server forgot deletions older than our cursor. Pull the
        // collection again from the beginning; the rows it no longer lists go when that listing
        // ends. The outbox stays as it is.
        qCInfo(lcPull) << collection << "needs a full re-sync";
        const SyncError reset = db->resetCursor(collection, scopeId);
        if (reset.isError()) {
            finishRun(reset);
            return;
        }
        resyncing.insert(collection);
        resyncSeen.remove(collection);
        pullNext();
        return;
    }
    if (error.httpStatus() == 401 && !authRetried) {
        authRetried = true; // new credentials were asked for: one more try (S7)
        pullNext();
        return;
    }
    if (error.isError()) {
        finishRun(error);
        return;
    }
    if (resyncing.contains(collection)) {
        QSet<QString> &seen = resyncSeen[collection];
        for (const Protocol::Change &c : response.changes)
            seen.insert(c.key);
    }
    if (!applier) {
        applyThread = new QThread(q);
        applyThread->setObjectName(QStringLiteral("synq-apply"));
        applier = new PullApplier(db.get());
        applier->moveToThread(applyThread);
        QObject::connect(applyThread, &QThread::finished, applier, &QObject::deleteLater);
        QObject::connect(applier, &PullApplier::applied, q,
                         [this](quint64 serial, const QString &c,
                                const QList<SyncDatabase::SyncedWrite> &w, bool more,
                                const SyncError &e) { onPageApplied(serial, c, w, more, e); });
        applyThread->start();
    }
    bump(runReport, "pulled", response.changes.size());
    QMetaObject::invokeMethod(applier, "apply", Qt::QueuedConnection, Q_ARG(quint64, runSerial),
                              Q_ARG(QString, scopeId), Q_ARG(QString, collection),
                              Q_ARG(Synq::Protocol::PullResponse, response));
    prefetchAfter(collection, maxVersion, response);
}

void SyncEnginePrivate::onPageApplied(quint64 serial, const QString &collection,
                                      const QList<SyncDatabase::SyncedWrite> &writes,
                                      bool hasMore, const SyncError &error)
{
    if (!sameRun(serial))
        return;
    if (error.isError()) {
        finishRun(error);
        return;
    }
    deliveryQueue.append(writes);
    deliveryCollection = collection;
    deliveryMore = hasMore;
    deliverChunk();
}

void SyncEnginePrivate::deliverChunk()
{
    CollectionStore *s = store(deliveryCollection);
    const qsizetype n = qMin<qsizetype>(DeliveryChunk, deliveryQueue.size());
    QList<RowState> states;
    QList<SyncDatabase::SyncedWrite> fixups;
    states.reserve(n);
    for (qsizetype i = 0; i < n; ++i) {
        const SyncDatabase::SyncedWrite &w = deliveryQueue.at(i);
        RowState state = rowState(s, w.key, w.synced, w.version, w.ord);
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
    const QList<SyncDatabase::SyncedWrite> delivered = deliveryQueue.mid(0, n);
    deliveryQueue.remove(0, n);
    if (!fixups.isEmpty()) {
        const SyncError error = db->writeSynced(scopeId, {}, &fixups);
        if (error.isError())
            report(error);
    }
    // Ordered (T10): a row an ordered transaction holds keeps showing what the user did; the
    // pulled state shows when that transaction ends (settle() reads the row again then).
    states.removeIf([&](const RowState &r) {
        return isLocked(itemId(deliveryCollection, r.key));
    });
    if (s)
        s->applyStates(states);
    checkAwaiting(deliveryCollection, delivered);
    if (!deliveryQueue.isEmpty()) {
        const quint64 run = runSerial;
        QTimer::singleShot(0, q, [this, run] {
            if (sameRun(run))
                deliverChunk();
        });
        return;
    }
    if (deliveryMore && --pagesLeft > 0) {
        pullNext();
        return;
    }
    if (resyncing.contains(deliveryCollection) && !deliveryMore)
        finishResync(deliveryCollection);
    pullQueue.removeFirst();
    pagesLeft = PagesPerRun;
    pullNext();
}

void SyncEnginePrivate::checkAwaiting(const QString &collection,
                                      const QList<SyncDatabase::SyncedWrite> &writes)
{
    // T8: a transaction awaiting sync completes when every change of it came back — at the
    // version the server gave it, or (persisted by the app's own code, no version known) with
    // its fields as it set them.
    QSet<QString> candidates;
    for (const SyncDatabase::SyncedWrite &w : writes) {
        const auto a = activity.constFind(itemId(collection, w.key));
        if (a == activity.cend())
            continue;
        for (const MutationRecord &m : a->pending) {
            const Transaction *t = transactions.value(m.transactionId);
            if (!t || t->record().state != TransactionState::PersistedAwaitingSync)
                continue;
            bool back = false;
            const auto expected = awaitedVersion.constFind(m.id);
            if (expected != awaitedVersion.cend() && *expected > 0) {
                back = w.version >= *expected;
            } else if (m.type == MutationType::Remove) {
                back = !w.synced;
            } else if (w.synced) {
                back = true;
                for (auto f = m.changes.constBegin(); f != m.changes.constEnd() && back; ++f)
                    back = w.synced->value(f.key()) == f.value();
            }
            if (back) {
                awaitedVersion.insert(m.id, -1); // seen
                candidates.insert(m.transactionId);
            }
        }
    }
    QList<TransactionWrite> done;
    const QDateTime now = QDateTime::currentDateTimeUtc();
    for (const QString &id : std::as_const(candidates)) {
        TransactionRecord record = transactions.value(id)->record();
        bool all = true;
        for (const MutationRecord &m : std::as_const(record.mutations))
            all = all && awaitedVersion.value(m.id) == -1;
        if (!all || !Lifecycle::synced(record, now))
            continue;
        for (const MutationRecord &m : std::as_const(record.mutations))
            awaitedVersion.remove(m.id);
        done.append({ record, {} });
    }
    if (!done.isEmpty())
        settle(done);
}

void SyncEnginePrivate::finishResync(const QString &collection)
{
    // The full listing is in: synced rows it did not list were deleted on the server.
    const QSet<QString> seen = resyncSeen.take(collection);
    resyncing.remove(collection);
    QStringList synced;
    SyncError error = db->syncedKeys(collection, scopeId, &synced);
    QHash<QString, std::optional<QJsonObject>> gone;
    QHash<QString, qint64> versions;
    for (const QString &key : std::as_const(synced)) {
        if (!seen.contains(key)) {
            gone.insert(itemId(collection, key), std::nullopt);
            versions.insert(itemId(collection, key), 0);
        }
    }
    if (!error.isError() && !gone.isEmpty())
        settle({}, gone, versions, false);
    if (error.isError())
        report(error);
}

void SyncEnginePrivate::finishRun(const SyncError &error)
{
    running = false;
    pageAhead.reset();
    status->setSyncing(false);
    // Reached means answered: only a failure to get any answer says offline.
    status->setOnline(!(error.code() == SyncError::Network && error.httpStatus() == 0)
                      && error.code() != SyncError::Timeout);
    runReport.insert(QStringLiteral("durationMs"), runClock.elapsed());
    runReport.insert(QStringLiteral("error"), QVariant::fromValue(error));

    // Transactions whose attempt failed go again when their retry is due (T5, S5).
    QDateTime due;
    for (const QString &id : std::as_const(outboxOrder)) {
        const Transaction *t = transactions.value(id);
        const QDateTime at = t ? Lifecycle::dueAt(t->record()) : QDateTime();
        if (at.isValid() && (!due.isValid() || at < due))
            due = at;
    }
    if (due.isValid() && autoSync)
        scheduleSync(int(qBound(qint64(0), QDateTime::currentDateTimeUtc().msecsTo(due), qint64(INT_MAX))));
    if (error.isError()) {
        report(error);
    } else {
        status->setLastSyncedAt(QDateTime::currentDateTimeUtc());
    }
    if (error.isError()) {
        ++failedRuns;
        // Exponential backoff with jitter, or the server's Retry-After if longer (S3).
        const int exp = qMin(failedRuns - 1, 6);
        int delay = 1000 * (1 << exp);
        delay += int(QRandomGenerator::global()->bounded(delay / 2 + 1)) - delay / 4;
        delay = qMax(delay, error.retryAfterMs());
        if (autoSync)
            scheduleSync(delay);
    } else {
        failedRuns = 0;
    }
    if (autoSync && syncInterval > 0)
        scheduleSync(syncInterval); // periodic: an earlier retry keeps its place
    Q_EMIT q->syncFinished(runReport);
    if (again)
        scheduleSync(0);
}

} // namespace Synq
