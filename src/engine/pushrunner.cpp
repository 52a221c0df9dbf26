// SPDX-License-Identifier: BSD-3-Clause
#include "pushrunner_p.h"

#include "syncengine_p.h"
#include "transaction_p.h"

#include <synq/compaction.h>
#include <synq/identifier.h>
#include <synq/keygenerator.h>
#include <synq/lifecycle.h>
#include <synq/logging_p.h>
#include <synq/remapping.h>

#include <QtCore/QRandomGenerator>

#include <atomic>

namespace Synq {

namespace {

double random01()
{
    return QRandomGenerator::global()->generateDouble();
}

Protocol::PushMutation toPushMutation(const TransactionRecord &t, const MutationRecord &m)
{
    Protocol::PushMutation pm;
    pm.id = m.id;
    pm.tx = t.id;
    pm.collection = m.collection;
    pm.op = m.type;
    pm.key = m.key;
    pm.baseVersion = m.baseVersion;
    pm.data = m.type == MutationType::Insert ? m.modified : m.changes;
    pm.hlc = t.hlc;
    pm.metadata = m.metadata;
    return pm;
}

} // namespace

void PushRunner::begin()
{
    m_batchLimit = 0;
    m_triedThisRun.clear();
    m_inFlight = 0;
    m_itemsInFlight.clear();
    m_stopping = false;
    m_stopError = SyncError();
    m_sent = 0;
    m_firstAfterNewCredentials = 0;
    m_compactionDue = true; // once before the first batch, and again after releases
    sendNext();
}

void PushRunner::compact()
{
    // What can be merged or dropped before anything is sent. Transactions already absorbed
    // into another stay out of the plan: they travel with their survivor.
    QList<TransactionRecord> outbox;
    for (const QString &id : e->outbox.unfinished()) {
        const TransactionRecord *r = e->outbox.record(id);
        // A transaction waiting for the app keeps its change as the app will see it.
        if (r->mergedInto.isEmpty() && !awaitsResolution(*r))
            outbox.append(*r);
    }
    // Items pending changes refer to keep their insert and removal (no orphaned reference).
    QSet<QString> referenced;
    if (!e->relations.isEmpty()) {
        for (const TransactionRecord &t : std::as_const(outbox)) {
            for (const MutationRecord &m : t.mutations) {
                for (const QString &item : Remapping::referencedItems(m, e->relations))
                    referenced.insert(item);
            }
        }
    }
    const Compaction::Plan plan = Compaction::plan(outbox, referenced);
    if (plan.isEmpty())
        return;
    const SyncError error = e->db->writeCompaction(plan);
    if (error.isError()) {
        e->report(error);
        return; // nothing was written: the outbox goes out uncompacted
    }
    for (const Compaction::Merge &merge : plan.merges) {
        // The rows' pending lists keep every change (they fold to the same state); the
        // survivor's entry now carries the merged one.
        if (const TransactionRecord *survivor = e->outbox.record(merge.survivor)) {
            TransactionRecord record = *survivor;
            record.mutations[0] = merge.mutation;
            record.updatedAt = merge.mutation.updatedAt;
            e->outbox.update(record);
            TransactionPrivate::get(e->outbox.handle(merge.survivor))->setRecord(record);
        }
        for (const QString &id : merge.absorbed) {
            if (const TransactionRecord *absorbed = e->outbox.record(id)) {
                TransactionRecord record = *absorbed;
                record.mergedInto = merge.survivor;
                e->outbox.update(record);
                TransactionPrivate::get(e->outbox.handle(id))->setRecord(record);
            }
        }
    }
    qCDebug(lcPush) << "compaction:" << plan.merges.size() << "merges," << plan.cancelled.size()
                    << "cancelled";
    if (!plan.cancelled.isEmpty()) {
        // Never sent, never needed: an insert and its removal of an item the server never saw.
        const QDateTime now = QDateTime::currentDateTimeUtc();
        QList<Settlement::TransactionWrite> writes;
        for (const QString &id : plan.cancelled) {
            const TransactionRecord *r = e->outbox.record(id);
            TransactionRecord record = r ? *r : TransactionRecord();
            if (r && Lifecycle::settleUnsent(record, now))
                writes.append({ record, {} });
        }
        e->settlement.apply(writes);
    }
}

void PushRunner::sendNext()
{
    if (m_stopping)
        return; // the last answer on its way ends the run
    if (m_compactionDue) {
        m_compactionDue = false;
        compact();
    }

    // FIFO, whole transactions, up to the batch size; ordered ones never overtake a change to
    // their items (Ordering::nextBatch).
    SyncTransport *transport = e->transport;
    const int limit = m_batchLimit > 0 ? m_batchLimit : (transport ? transport->batchSize() : 100);
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QList<Ordering::Entry> outbox;
    QSet<QString> skip = m_triedThisRun;
    QSet<QString> awaitedParents; // items a waiting child refers to: nothing overtakes it there
    for (const QString &id : e->outbox.unfinished()) {
        const TransactionRecord *r = e->outbox.record(id);
        if (!r->mergedInto.isEmpty())
            continue;
        outbox.append(Ordering::Entry::of(*r, e->outbox.itemsOf(id)));
        if (!transport && !e->config(r->mutations.value(0).collection).persist)
            skip.insert(id); // nowhere to send it yet
        if (awaitsResolution(*r))
            skip.insert(id); // held until the app resolves its conflict
        if (!e->relations.isEmpty() && waitsForParent(*r, &awaitedParents))
            skip.insert(id); // goes once the items it refers to exist on the server
    }
    // syncNow() sends what waits for a scheduled retry too; automatic runs keep the schedule.
    const QDateTime dueBy = e->run.sendsScheduledRetries() ? now.addYears(100) : now;
    const Ordering::Batch batch = Ordering::nextBatch(outbox, limit, dueBy, skip);
    // Beside a push on its way, only a batch with none of its items: otherwise this one waits
    // for that answer (an item's changes reach the backend in order).
    QSet<QString> items;
    if (m_inFlight > 0) {
        for (const QString &id : batch.send) {
            for (const QString &item : e->outbox.itemsOf(id))
                items.insert(item);
        }
        if (batch.send.isEmpty() || items.intersects(m_itemsInFlight))
            return;
    }

    QList<Settlement::TransactionWrite> writes;
    for (const auto &[id, behind] : batch.queue) {
        TransactionRecord record = *e->outbox.record(id);
        if (Lifecycle::queue(record, behind, now))
            writes.append({ record, {} });
    }
    if (batch.send.isEmpty()) {
        if (!writes.isEmpty())
            e->settlement.apply(writes);
        if (!transport)
            e->run.finish(SyncError());
        else
            e->pull.begin();
        return;
    }

    Protocol::PushRequest request;
    request.client = e->clientId;
    QStringList viaTransport;
    QList<QPair<QString, QString>> viaHandler; // (transaction, attempt)
    for (const QString &id : batch.send) {
        TransactionRecord record = *e->outbox.record(id);
        const QString attemptId = KeyGenerator::global().next();
        Lifecycle::startAttempt(record, attemptId, now);
        writes.append({ record, {} });
        m_triedThisRun.insert(id); // one attempt per run: a retry waits for a later one
        if (e->config(record.mutations.value(0).collection).persist) {
            viaHandler.append({ id, attemptId });
            continue;
        }
        viaTransport.append(id);
        for (const MutationRecord &m : std::as_const(record.mutations))
            request.mutations.append(toPushMutation(record, m));
    }
    if (!e->settlement.apply(writes)) {
        stop(e->status->lastError());
        return;
    }

    const quint64 run = e->run.serial();
    // Persist functions answer whenever they do: the run does not wait for them (a slow API
    // must not hold back everything else); their transactions stay Persisting until then.
    for (const auto &[id, attemptId] : std::as_const(viaHandler))
        callPersistHandler(id, attemptId);
    if (viaTransport.isEmpty()) {
        QMetaObject::invokeMethod(
                e->q, [this, run] { if (e->run.isCurrent(run)) sendNext(); },
                Qt::QueuedConnection);
        return;
    }
    request.batch = Protocol::batchId(request.mutations);
    qCDebug(lcPush) << "pushing" << request.mutations.size() << "mutations of"
                    << viaTransport.size() << "transactions, batch" << request.batch;
    const QString scopeAtStart = e->scopeId;
    if (items.isEmpty()) {
        for (const Protocol::PushMutation &m : std::as_const(request.mutations))
            items.insert(itemId(m.collection, m.key));
    }
    ++m_inFlight;
    m_itemsInFlight.unite(items);
    const quint64 serial = ++m_sent;
    // The transport may outlive the engine: an answer after that finds no engine to touch.
    const QPointer<SyncEngine> engine(e->q);
    transport->push(request, [this, engine, run, scopeAtStart, viaTransport, request, items,
                              serial](const Protocol::PushResponse &response,
                                      const SyncError &error) {
        if (!engine || !e->run.isCurrent(run))
            return; // the engine moved on; the transactions resume after a reload
        --m_inFlight;
        m_itemsInFlight.subtract(items);
        if (scopeAtStart != e->scopeId || !e->db)
            return;
        onPushed(viaTransport, request, serial, response, error);
    });
    // (An answer may have come inside push(), and ended the run.)
    if (e->run.isCurrent(run) && e->transport && m_inFlight > 0
        && m_inFlight < e->transport->maxPushesInFlight())
        sendNext();
}

bool PushRunner::waitsForParent(const TransactionRecord &t, QSet<QString> *awaited) const
{
    const qint64 position = e->outbox.orderOf(t.id);
    // A later change to an item a waiting child refers to (its removal) waits behind it.
    for (const QString &item : e->outbox.itemsOf(t.id)) {
        if (awaited->contains(item))
            return true;
    }
    for (const MutationRecord &m : t.mutations) {
        for (const QString &item : Remapping::referencedItems(m, e->relations)) {
            const Outbox::Pending *p = e->outbox.pendingOn(item);
            if (!p)
                continue;
            for (const MutationRecord &parent : p->mutations) {
                // Only an earlier insert is waited for: two new items referring to each other
                // go in commit order.
                if (parent.type != MutationType::Insert || parent.transactionId == t.id
                    || e->outbox.orderOf(parent.transactionId) >= position)
                    continue;
                const TransactionRecord *r = e->outbox.record(parent.transactionId);
                if (r && r->state != TransactionState::PersistedAwaitingSync) {
                    // (One awaiting sync is on the server already.) Later changes to its
                    // items and to the items it refers to wait behind it.
                    for (const QString &own : e->outbox.itemsOf(t.id))
                        awaited->insert(own);
                    for (const MutationRecord &n : t.mutations) {
                        for (const QString &ref : Remapping::referencedItems(n, e->relations))
                            awaited->insert(ref);
                    }
                    return true;
                }
            }
        }
    }
    return false;
}

void PushRunner::stop(const SyncError &error)
{
    if (!m_stopping)
        m_stopError = error;
    m_stopping = true;
    if (m_inFlight == 0)
        e->run.finish(m_stopError);
}

// An answer came (and was settled): the next batch, or the end of a stopping phase.
void PushRunner::answered(quint64 run)
{
    if (!e->run.isCurrent(run))
        return;
    if (m_stopping) {
        if (m_inFlight == 0)
            e->run.finish(m_stopError);
        return;
    }
    sendNext();
}

void PushRunner::callPersistHandler(const QString &id, const QString &attemptId)
{
    Transaction *t = e->outbox.handle(id);
    const SyncEngine::PersistHandler handler =
            e->config(t->record().mutations.value(0).collection).persist;
    // The handler may answer at once, later, or (wrongly) twice: only the first answer to
    // this attempt counts, and it always lands on the engine's thread.
    auto answeredOnce = std::make_shared<std::atomic_bool>(false);
    QPointer<SyncEngine> engine(e->q);
    const QString scopeAtStart = e->scopeId;
    auto done = [this, engine, answeredOnce, id, attemptId, scopeAtStart](const SyncError &error) {
        if (answeredOnce->exchange(true) || !engine)
            return;
        QMetaObject::invokeMethod(
                engine,
                [this, id, attemptId, scopeAtStart, error] {
                    if (scopeAtStart != e->scopeId || !e->db)
                        return;
                    onPersisted(id, attemptId, error);
                },
                Qt::QueuedConnection);
    };
    handler(t, done);
}

void PushRunner::onPersisted(const QString &id, const QString &attemptId, const SyncError &error)
{
    const TransactionRecord *current = e->outbox.record(id);
    if (!current || current->state != TransactionState::Persisting
        || current->attempts.isEmpty() || current->attempts.constLast().id != attemptId)
        return; // settled otherwise meanwhile (a reload made it pending again)
    TransactionRecord record = *current;
    const QDateTime now = QDateTime::currentDateTimeUtc();
    if (error.isError()) {
        const auto outcome = Lifecycle::attemptFailed(record, error, e->retryPolicy->settings(),
                                                      now, random01());
        if (outcome == Lifecycle::FailureOutcome::Failed)
            ++e->run.report().failed;
        e->settlement.apply({ { record, {} } });
        e->scheduler.retryDueAt(Lifecycle::dueAt(record));
        return;
    }
    // Persisted by the app's own code: its change is the synced state now, at the version the
    // replica has (a later sync brings the server's).
    Settlement::Outcome outcome;
    bool await = false;
    for (const MutationRecord &m : std::as_const(record.mutations)) {
        await = await || e->config(m.collection).awaitSync;
        outcome.persisted.append({ m, -1 }); // no version known: the stored one stays
    }
    Lifecycle::persisted(record, await, now);
    e->run.report().pushed += int(record.mutations.size());
    outcome.transactions = { { record, {} } };
    e->settlement.apply(std::move(outcome));
}

void PushRunner::withdraw(const QStringList &txIds, bool again)
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QList<Settlement::TransactionWrite> writes;
    for (const QString &id : txIds) {
        TransactionRecord record = *e->outbox.record(id);
        const QString attempt =
                record.attempts.isEmpty() ? QString() : record.attempts.constLast().id;
        if (Lifecycle::unreachable(record, now))
            writes.append({ record, attempt });
        if (again)
            m_triedThisRun.remove(id);
    }
    e->settlement.apply(writes);
}

void PushRunner::onPushed(const QStringList &txIds, const Protocol::PushRequest &request,
                          quint64 pushSerial, const Protocol::PushResponse &response,
                          const SyncError &error)
{
    if (error.isError())
        onRequestFailed(txIds, request, pushSerial, error);
    else
        onResults(txIds, response);
}

void PushRunner::onRequestFailed(const QStringList &txIds, const Protocol::PushRequest &request,
                                 quint64 pushSerial, const SyncError &error)
{
    const quint64 run = e->run.serial();
    if (error.httpStatus() == 401
        && (!e->run.hasRetriedUnauthorized() || pushSerial < m_firstAfterNewCredentials)) {
        // The transport asked the app for new credentials (authenticationRequired); the
        // same batch goes out once more with them. A push that was on its way beside it
        // carried the old credentials: it goes again as well.
        if (!e->run.hasRetriedUnauthorized()) {
            e->run.setRetriedUnauthorized();
            m_firstAfterNewCredentials = m_sent + 1;
        }
        withdraw(txIds, true);
        answered(run);
        return;
    }
    if (error.httpStatus() == 413 && txIds.size() > 1) {
        // Too large: the same transactions again, in smaller batches.
        m_batchLimit = qMax(1, int(request.mutations.size()) / 2);
        withdraw(txIds, true);
        answered(run);
        return;
    }
    if (error.code() == SyncError::Network && error.httpStatus() == 0) {
        // Offline is not a failure: no retry is used up; the run backs off.
        withdraw(txIds, false);
        stop(error);
        return;
    }
    const QDateTime now = QDateTime::currentDateTimeUtc();
    QList<Settlement::TransactionWrite> writes;
    for (const QString &id : txIds) {
        TransactionRecord record = *e->outbox.record(id);
        if (Lifecycle::attemptFailed(record, error, e->retryPolicy->settings(), now, random01())
            == Lifecycle::FailureOutcome::Failed)
            ++e->run.report().failed;
        writes.append({ record, {} });
    }
    e->settlement.apply(writes);
    if (error.isRetryable()) {
        stop(error); // the server is in trouble: the rest waits for a later run
        return;
    }
    answered(run);
}

// Per transaction: all applied, or the first failure decides.
void PushRunner::onResults(const QStringList &txIds, const Protocol::PushResponse &response)
{
    const QDateTime now = QDateTime::currentDateTimeUtc();
    const RetrySettings &policy = e->retryPolicy->settings();
    Settlement::Outcome outcome;
    QHash<QString, TransactionRecord> rebased; // other active transactions with new base versions
    QList<QPair<QString, QString>> conflicted; // (collection, key) of each conflict
    qsizetype i = 0;
    for (const QString &id : txIds) {
        Settlement::TransactionWrite write { *e->outbox.record(id), {} };
        TransactionRecord &record = write.record;
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
            for (const MutationRecord &m : std::as_const(record.mutations))
                await = await || e->config(m.collection).awaitSync;
            for (qsizetype k = 0; k < record.mutations.size(); ++k) {
                const MutationRecord &m = record.mutations.at(k);
                const Protocol::PushResult &r = response.results.at(first + k);
                if (await)
                    e->outbox.awaitBack(m.id, r.version);
                outcome.persisted.append({ m, r.version });
                // The server gave the new item a key of its own (server-assigned keys).
                if (m.type == MutationType::Insert && !r.key.isEmpty() && r.key != m.key)
                    outcome.remaps.append({ m.collection, m.key, r.key });
                // Later pending changes on the row were made on top of this one: they now
                // build on the version it produced.
                moveOnto(itemId(m.collection, m.key), id, m.baseVersion, r.version, rebased);
            }
            Lifecycle::persisted(record, await, now);
            e->run.report().pushed += int(record.mutations.size());
        } else if (failure->status == Protocol::PushResult::Conflict) {
            ++e->run.report().conflicts;
            settleConflict(write, *failure, now, outcome, rebased);
            for (const MutationRecord &m : std::as_const(record.mutations)) {
                if (m.id == failure->id)
                    conflicted.append({ m.collection, m.key });
            }
        } else {
            // Retry, or rejected: the transaction fails and its optimistic changes roll back.
            SyncError error = failure->error;
            if (failure->status != Protocol::PushResult::Retry)
                error.setRetryable(false);
            if (Lifecycle::attemptFailed(record, error, policy, now, random01())
                == Lifecycle::FailureOutcome::Failed)
                ++e->run.report().failed;
        }
        outcome.transactions.append(std::move(write));
    }
    // The rebased transactions join the outcome (with their new base versions only).
    for (auto it = rebased.cbegin(); it != rebased.cend(); ++it) {
        auto w = std::find_if(outcome.transactions.begin(), outcome.transactions.end(),
                              [&](const Settlement::TransactionWrite &x) {
                                  return x.record.id == it.key();
                              });
        if (w == outcome.transactions.end()) {
            outcome.transactions.append({ it.value(), {} });
            continue;
        }
        for (MutationRecord &m : w->record.mutations) {
            for (const MutationRecord &o : it.value().mutations) {
                if (o.id == m.id)
                    m.baseVersion = o.baseVersion;
            }
        }
    }
    const quint64 run = e->run.serial();
    e->settlement.apply(std::move(outcome));
    for (const auto &[collection, key] : std::as_const(conflicted)) {
        if (CollectionStore *s = e->stores.value(collection))
            Q_EMIT s->conflictDetected(key);
    }
    answered(run);
}

} // namespace Synq
