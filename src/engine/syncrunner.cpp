// SPDX-License-Identifier: BSD-3-Clause
// The sync run of a SyncEngine: push the outbox, then pull every collection.

#include "pullapplier_p.h"
#include "syncengine_p.h"

#include <synq/keygenerator.h>
#include <synq/compaction.h>
#include <synq/overlay.h>

#include <QtCore/QLoggingCategory>
#include <QtCore/QRandomGenerator>

Q_LOGGING_CATEGORY(lcPush, "synq.push", QtInfoMsg)
Q_LOGGING_CATEGORY(lcPull, "synq.pull", QtInfoMsg)

namespace Synq {

namespace {

// Rows handed to the models per event-loop turn: keeps every turn short (L3).
constexpr int DeliveryChunk = 500;
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

void SyncEnginePrivate::scheduleSync(int delayMs)
{
    if (!transport || !db)
        return;
    if (!syncTimer) {
        syncTimer = new QTimer(q);
        syncTimer->setSingleShot(true);
        QObject::connect(syncTimer, &QTimer::timeout, q, [this] { startRun(); });
    }
    // An earlier run keeps its place; a later request never postpones it.
    if (syncTimer->isActive() && syncTimer->remainingTime() <= delayMs)
        return;
    syncTimer->start(qMax(0, delayMs));
}

void SyncEnginePrivate::startRun()
{
    if (running) {
        again = true;
        return;
    }
    if (!transport || !ensureOpen())
        return;
    if (clientId.isEmpty()) {
        const SyncError error = db->clientId(&clientId);
        if (error.isError()) {
            report(error);
            return;
        }
    }
    running = true;
    again = false;
    ++runSerial;
    runBatchLimit = 0;
    triedThisRun.clear();
    authRetried = false;
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

void SyncEnginePrivate::compact()
{
    // P2: what can be merged or dropped before anything is sent. Transactions already
    // absorbed into another stay out of the plan: they travel with their survivor.
    QList<TransactionRecord> outbox;
    for (const QString &id : std::as_const(transactionOrder)) {
        const Transaction *t = transactions.value(id);
        if (t && t->record().mergedInto.isEmpty())
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
        QList<SyncDatabase::TransactionUpdate> updates;
        for (const QString &id : plan.cancelled) {
            const Transaction *t = transactions.value(id);
            if (!t)
                continue;
            SyncDatabase::TransactionUpdate u;
            u.id = id;
            u.state = TransactionState::Completed;
            u.mutationState = MutationState::Synced;
            u.currentAttempt = t->currentAttempt();
            u.updatedAt = now;
            updates.append(u);
        }
        settle(updates, {}, {});
    }
}

void SyncEnginePrivate::pushNext()
{
    if (triedThisRun.isEmpty())
        compact(); // once per run, before its first batch

    // FIFO: whole transactions, in commit order, up to the batch size.
    const int limit = runBatchLimit > 0 ? runBatchLimit : transport->batchSize();
    QStringList batch;
    int count = 0;
    for (const QString &id : std::as_const(transactionOrder)) {
        Transaction *t = transactions.value(id);
        if (!t || t->state() != Transaction::Pending || triedThisRun.contains(id)
            || !t->record().mergedInto.isEmpty())
            continue;
        if (!batch.isEmpty() && count + t->mutationCount() > limit)
            break;
        batch.append(id);
        count += t->mutationCount();
    }
    if (batch.isEmpty()) {
        pullQueue = stores.keys();
        pullQueue.sort();
        pagesLeft = PagesPerRun;
        pullNext();
        return;
    }

    const QDateTime now = QDateTime::currentDateTimeUtc();
    Protocol::PushRequest request;
    request.client = clientId;
    QList<SyncDatabase::TransactionUpdate> updates;
    for (const QString &id : std::as_const(batch)) {
        const TransactionRecord &record = transactions.value(id)->record();
        for (const MutationRecord &m : record.mutations) {
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
        SyncDatabase::TransactionUpdate u;
        u.id = id;
        u.state = TransactionState::Persisting;
        u.mutationState = MutationState::Persisting;
        u.currentAttempt = record.currentAttempt + 1;
        u.updatedAt = now;
        AttemptRecord attempt;
        attempt.id = KeyGenerator::global().next();
        attempt.startedAt = now;
        u.attempt = attempt;
        updates.append(u);
    }
    request.batch = Protocol::batchId(request.mutations);
    for (const QString &id : std::as_const(batch))
        triedThisRun.insert(id); // one attempt per run: a retry waits for the next run
    settle(updates, {}, {});
    qCDebug(lcPush) << "pushing" << request.mutations.size() << "mutations of" << batch.size()
                    << "transactions, batch" << request.batch;

    const quint64 run = runSerial;
    const QString scopeAtStart = scopeId;
    transport->push(request, [this, run, scopeAtStart, batch, request](
                                     const Protocol::PushResponse &response, const SyncError &error) {
        if (!sameRun(run) || scopeAtStart != scopeId || !db)
            return; // the engine moved on; the transactions are pending again after a reload
        onPushed(batch, request, response, error);
    });
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
    r.visible = active ? Overlay::visibleState(synced, a->pending) : synced;
    r.pending = active ? a->transactionCount() : 0;
    r.optimistic = active;
    return r;
}

void SyncEnginePrivate::settle(QList<SyncDatabase::TransactionUpdate> updates,
                               const QHash<QString, std::optional<QJsonObject>> &synced,
                               const QHash<QString, qint64> &syncedVersions)
{
    // Transactions absorbed by compaction end the way the one carrying their change ends.
    const qsizetype given = updates.size();
    for (qsizetype i = 0; i < given; ++i) {
        const SyncDatabase::TransactionUpdate u = updates.at(i); // a copy: appending below may reallocate
        if (isActive(u.state))
            continue;
        const QStringList absorbed = absorbedBy.values(u.id);
        for (const QString &id : absorbed) {
            const Transaction *t = transactions.value(id);
            if (!t || !isActive(t->record().state))
                continue;
            SyncDatabase::TransactionUpdate follow;
            follow.id = t->id();
            follow.state = u.state;
            follow.mutationState = u.mutationState;
            follow.currentAttempt = t->currentAttempt();
            follow.error = u.error;
            follow.updatedAt = u.updatedAt;
            updates.append(follow);
        }
    }

    // Memory first (the rows' new states depend on which transactions stay active), then one
    // SQL transaction, then the signals.
    QList<QPair<Transaction *, TransactionRecord>> changed;
    QSet<QString> touched;
    for (const SyncDatabase::TransactionUpdate &u : updates) {
        Transaction *t = transactions.value(u.id);
        if (!t)
            continue;
        TransactionRecord record = t->record();
        const bool wasActive = isActive(record.state);
        record.state = u.state;
        record.currentAttempt = u.currentAttempt;
        record.error = u.error;
        record.updatedAt = u.updatedAt;
        for (MutationRecord &m : record.mutations) {
            m.state = u.mutationState;
            m.updatedAt = u.updatedAt;
            for (const auto &r : u.rebases) {
                if (r.first == m.id)
                    m.baseVersion = r.second;
            }
        }
        if (u.attempt) {
            auto it = std::find_if(record.attempts.begin(), record.attempts.end(),
                                   [&](const AttemptRecord &a) { return a.id == u.attempt->id; });
            if (it == record.attempts.end())
                record.attempts.append(*u.attempt);
            else
                *it = *u.attempt;
        }
        if (wasActive && !isActive(record.state)) {
            noteFinished(t->record());
            for (const MutationRecord &m : record.mutations)
                touched.insert(itemId(m.collection, m.key));
        }
        changed.append({ t, record });
    }
    // Rebased base versions must also reach the in-memory pending lists.
    for (const SyncDatabase::TransactionUpdate &u : updates) {
        for (const auto &r : u.rebases) {
            for (ItemActivity &a : activity) {
                for (MutationRecord &m : a.pending) {
                    if (m.id == r.first)
                        m.baseVersion = r.second;
                }
            }
        }
    }
    for (auto it = synced.cbegin(); it != synced.cend(); ++it)
        touched.insert(it.key());

    // Rows settled without news from the server (a failure rolls back) return to the synced
    // state the replica holds for them.
    QHash<QString, QStringList> unknownByCollection;
    for (const QString &id : std::as_const(touched)) {
        if (!synced.contains(id)) {
            const qsizetype slash = id.indexOf(QLatin1Char('/'));
            unknownByCollection[id.left(slash)].append(id.mid(slash + 1));
        }
    }
    QHash<QString, SyncDatabase::SyncedState> stored;
    for (auto it = unknownByCollection.cbegin(); it != unknownByCollection.cend(); ++it) {
        QHash<QString, SyncDatabase::SyncedState> states;
        const SyncError error = db->loadSynced(it.key(), scopeId, it.value(), &states);
        if (error.isError()) {
            report(error);
            return;
        }
        for (auto s = states.cbegin(); s != states.cend(); ++s)
            stored.insert(itemId(it.key(), s.key()), s.value());
    }

    QList<SyncDatabase::SyncedWrite> writes;
    QList<CollectionStore *> writeStores;
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
        if (synced.contains(id)) {
            w.synced = synced.value(id);
            w.version = syncedVersions.value(id);
        } else {
            const SyncDatabase::SyncedState state = stored.value(id);
            w.synced = state.data;
            w.version = state.version;
        }
        const RowState state = rowState(s, key, w.synced, w.version, 0);
        w.setLocal = true;
        w.local = state.optimistic ? state.visible : std::optional<QJsonObject>();
        if (!state.optimistic)
            w.local = std::optional<std::optional<QJsonObject>>(std::optional<QJsonObject>());
        w.localDeleted = state.optimistic && !state.visible;
        writes.append(w);
        writeStores.append(s);
    }

    const SyncError error = db->writeSynced(scopeId, updates, &writes);
    if (error.isError()) {
        report(error);
        return;
    }

    for (const auto &[t, record] : std::as_const(changed)) {
        const Transaction::State before = t->state();
        t->setRecord(record);
        if (before != t->state())
            Q_EMIT q->transactionStateChanged(t->id(), t->state());
    }
    QHash<CollectionStore *, QList<RowState>> perStore;
    for (qsizetype i = 0; i < writes.size(); ++i) {
        const SyncDatabase::SyncedWrite &w = writes.at(i);
        perStore[writeStores.at(i)].append(
                rowState(writeStores.at(i), w.key, w.synced, w.version, w.ord));
    }
    for (auto it = perStore.cbegin(); it != perStore.cend(); ++it)
        it.key()->applyStates(it.value());
    for (CollectionStore *s : std::as_const(stores))
        s->setPendingTransactions(activeTransactionsIn(s->name()));
    updateStatusCounts();
}

void SyncEnginePrivate::onPushed(const QStringList &txIds, const Protocol::PushRequest &request,
                                 const Protocol::PushResponse &response, const SyncError &error)
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QList<SyncDatabase::TransactionUpdate> updates;
    QHash<QString, std::optional<QJsonObject>> synced;
    QHash<QString, qint64> versions;
    QHash<QString, QList<QPair<QString, qint64>>> rebases; // transaction -> (mutation, version)

    auto base = [&](const QString &id, TransactionState state, const SyncError &e) {
        const TransactionRecord &record = transactions.value(id)->record();
        SyncDatabase::TransactionUpdate u;
        u.id = id;
        u.state = state;
        u.mutationState = state == TransactionState::Completed ? MutationState::Synced
                                                               : MutationState::Created;
        u.currentAttempt = record.currentAttempt;
        u.error = e;
        u.updatedAt = now;
        AttemptRecord attempt = record.attempts.isEmpty() ? AttemptRecord() : record.attempts.constLast();
        attempt.completedAt = now;
        attempt.error = e;
        u.attempt = attempt;
        return u;
    };

    if (error.isError()) {
        if (error.httpStatus() == 401 && !authRetried) {
            // The transport asked the app for new credentials (authenticationRequired); the
            // same batch goes out once more with them (S7).
            authRetried = true;
            for (const QString &id : txIds) {
                updates.append(base(id, TransactionState::Pending, error));
                triedThisRun.remove(id);
            }
            settle(updates, {}, {});
            pushNext();
            return;
        }
        if (error.httpStatus() == 413 && txIds.size() > 1) {
            // Too large: send the same transactions again in smaller batches.
            runBatchLimit = qMax(1, request.mutations.size() / 2);
            for (const QString &id : txIds) {
                updates.append(base(id, TransactionState::Pending, error));
                triedThisRun.remove(id); // not tried: sent again at once in smaller batches
            }
            settle(updates, {}, {});
            pushNext();
            return;
        }
        const bool retry = error.isRetryable();
        for (const QString &id : txIds) {
            SyncDatabase::TransactionUpdate u = base(id, retry ? TransactionState::Pending
                                                               : TransactionState::Failed, error);
            updates.append(u);
        }
        if (!retry)
            bump(runReport, "failed", txIds.size());
        settle(updates, {}, {});
        if (retry) {
            finishRun(error);
            return;
        }
        pushNext();
        return;
    }

    // Per transaction: all applied, or the first failure decides.
    qsizetype i = 0;
    for (const QString &id : txIds) {
        const TransactionRecord &record = transactions.value(id)->record();
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
            SyncDatabase::TransactionUpdate u = base(id, TransactionState::Completed, SyncError());
            for (qsizetype k = 0; k < record.mutations.size(); ++k) {
                const MutationRecord &m = record.mutations.at(k);
                const Protocol::PushResult &r = response.results.at(first + k);
                const QString item = itemId(m.collection, m.key);
                synced.insert(item, m.type == MutationType::Remove
                                            ? std::nullopt
                                            : std::optional<QJsonObject>(m.modified));
                versions.insert(item, r.version);
                // Later pending changes on the row were made on top of this one: they now
                // build on the version it produced.
                const auto a = activity.constFind(item);
                if (a == activity.cend())
                    continue;
                for (const MutationRecord &p : a->pending) {
                    if (p.transactionId != id && p.baseVersion == m.baseVersion)
                        rebases[p.transactionId].append({ p.id, r.version });
                }
            }
            bump(runReport, "pushed", record.mutations.size());
            updates.append(u);
        } else if (failure->status == Protocol::PushResult::Retry) {
            updates.append(base(id, TransactionState::Pending, failure->error));
        } else {
            // Conflict (server wins: adopt its record) or rejected: the transaction fails and
            // its optimistic changes roll back.
            SyncError e = failure->error;
            if (failure->status == Protocol::PushResult::Conflict) {
                bump(runReport, "conflicts");
                for (const MutationRecord &m : record.mutations) {
                    if (m.id != failure->id)
                        continue;
                    const QString item = itemId(m.collection, m.key);
                    synced.insert(item, failure->deleted ? std::nullopt : failure->record);
                    versions.insert(item, failure->version);
                }
            }
            bump(runReport, "failed");
            e.setRetryable(false);
            updates.append(base(id, TransactionState::Failed, e));
        }
    }
    for (auto it = rebases.cbegin(); it != rebases.cend(); ++it) {
        auto u = std::find_if(updates.begin(), updates.end(),
                              [&](const SyncDatabase::TransactionUpdate &x) { return x.id == it.key(); });
        if (u != updates.end()) {
            u->rebases.append(it.value());
            continue;
        }
        Transaction *t = transactions.value(it.key());
        if (!t)
            continue;
        SyncDatabase::TransactionUpdate keep; // unchanged but for the base versions
        keep.id = t->id();
        keep.state = t->record().state;
        keep.mutationState = t->record().mutations.constFirst().state;
        keep.currentAttempt = t->currentAttempt();
        keep.error = t->error();
        keep.updatedAt = t->updatedAt();
        keep.rebases = it.value();
        updates.append(keep);
    }
    settle(updates, synced, versions);
    pushNext();
}

void SyncEnginePrivate::pullNext()
{
    if (pullQueue.isEmpty()) {
        finishRun(SyncError());
        return;
    }
    const QString collection = pullQueue.constFirst();
    SyncDatabase::Cursor cursor;
    const SyncError error = db->cursor(collection, scopeId, &cursor);
    if (error.isError()) {
        finishRun(error);
        return;
    }
    Protocol::PullRequest request;
    request.collection = collection;
    request.cursor = cursor.cursor;
    request.limit = PageSize;
    const quint64 run = runSerial;
    const QString scopeAtStart = scopeId;
    const qint64 maxVersion = cursor.maxVersion;
    transport->pull(request, [this, run, scopeAtStart, collection, request, maxVersion](
                                     const Protocol::PullResponse &response, const SyncError &e) {
        if (!sameRun(run) || scopeAtStart != scopeId || !db)
            return;
        if (!e.isError() && !request.cursor.isEmpty()) {
            // Cursors only move forward: a page that goes back means the server lost data.
            for (const Protocol::Change &c : response.changes) {
                if (c.version <= maxVersion) {
                    onPulled(collection, request, {},
                             SyncError(SyncError::Protocol,
                                       SyncEngine::tr("The server's changes went back in time "
                                                      "(version %1 after %2).")
                                               .arg(c.version)
                                               .arg(maxVersion)));
                    return;
                }
            }
        }
        onPulled(collection, request, response, e);
    });
}

void SyncEnginePrivate::onPulled(const QString &collection, const Protocol::PullRequest &request,
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
    deliveryQueue.remove(0, n);
    if (!fixups.isEmpty()) {
        const SyncError error = db->writeSynced(scopeId, {}, &fixups);
        if (error.isError())
            report(error);
    }
    if (s)
        s->applyStates(states);
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
        settle({}, gone, versions);
    if (error.isError())
        report(error);
}

void SyncEnginePrivate::finishRun(const SyncError &error)
{
    running = false;
    status->setSyncing(false);
    // Reached means answered: only a failure to get any answer says offline.
    status->setOnline(!(error.code() == SyncError::Network && error.httpStatus() == 0)
                      && error.code() != SyncError::Timeout);
    runReport.insert(QStringLiteral("durationMs"), runClock.elapsed());
    runReport.insert(QStringLiteral("error"), QVariant::fromValue(error));

    // Transactions tried in this run that are still pending wait for a later run (S5).
    bool leftPending = false;
    for (const QString &id : std::as_const(triedThisRun)) {
        const Transaction *t = transactions.value(id);
        leftPending = leftPending || (t && t->state() == Transaction::Pending);
    }
    if (error.isError()) {
        report(error);
    } else {
        status->setLastSyncedAt(QDateTime::currentDateTimeUtc());
    }
    if (error.isError() || leftPending) {
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
