// SPDX-License-Identifier: BSD-3-Clause
#include "testpushhandler_p.h"

namespace Synq {
namespace Testing {

using Protocol::PushMutation;
using Protocol::PushRequest;
using Protocol::PushResponse;
using Protocol::PushResult;

namespace {

// Every mutation of the transaction answered with error, nothing written.
void fail(const QList<PushMutation> &mutations, qsizetype begin, qsizetype end,
          const SyncError &error, QList<PushResult> *results)
{
    for (qsizetype i = begin; i < end; ++i) {
        PushResult &r = (*results)[i];
        r.id = mutations.at(i).id;
        r.status = error.isRetryable() ? PushResult::Retry : PushResult::Rejected;
        r.key = mutations.at(i).key;
        r.error = error;
    }
}

} // namespace

PushResponse TestPushHandler::run(const PushRequest &request, QList<SyncError> *persistFailures)
{
    const QList<PushMutation> &mutations = request.mutations;
    PushResponse response;
    response.results.resize(mutations.size());
    m_batch.clear(); // what earlier mutations mean for later ones, in this request only
    for (qsizetype begin = 0; begin < mutations.size();) {
        qsizetype end = begin + 1;
        while (end < mutations.size() && mutations.at(end).tx == mutations.at(begin).tx)
            ++end;
        if (persistFailures->isEmpty())
            runTransaction(mutations, begin, end, &response.results);
        else
            fail(mutations, begin, end, persistFailures->takeFirst(), &response.results);
        begin = end;
    }
    return response;
}

/*
    One client transaction, all or nothing, under the rules synq-server applies (PushRules):
    - mutation ids applied before answer with their remembered result (not applied again);
    - the others are checked and written in order; at the first conflict every write of this
      transaction is taken back (versions included) and forgotten by the batch, that
      mutation reports the conflict as the record is after the roll-back and its
      not-yet-remembered siblings are "rejected" with Cancelled ("aborted" on the wire),
      retryable as the cause.
*/
void TestPushHandler::runTransaction(const QList<PushMutation> &mutations, qsizetype begin,
                                     qsizetype end, QList<PushResult> *results)
{
    QList<qsizetype> pending;
    for (qsizetype i = begin; i < end; ++i) {
        const PushMutation &m = mutations.at(i);
        const auto seen = m_stored.constFind(m.id);
        if (seen == m_stored.cend()) {
            pending.append(i);
            continue;
        }
        (*results)[i] = *seen;
        m_batch.noteApplied(m.collection, m.key, seen->key, seen->version);
    }
    // Remembered facts hold whatever happens to the rest of the transaction.
    m_batch.keep();
    if (pending.isEmpty())
        return;

    QList<TestStore::Undo> undo;
    const qint64 versionBefore = m_store->currentVersion();
    qsizetype failed = -1;
    for (const qsizetype i : std::as_const(pending)) {
        if (!applyOne(mutations.at(i), &undo, &(*results)[i])) {
            failed = i;
            break;
        }
    }

    if (failed >= 0) {
        m_batch.undo();
        m_store->takeBack(undo, versionBefore);
        const PushMutation &causeMutation = mutations.at(failed);
        const PushResult cause = conflictResult(causeMutation, results->at(failed).key);
        for (const qsizetype i : std::as_const(pending)) {
            const PushMutation &m = mutations.at(i);
            PushResult &r = (*results)[i];
            if (i == failed) {
                r = cause;
                continue;
            }
            r = PushResult();
            r.id = m.id;
            r.status = PushResult::Rejected;
            r.key = m_batch.serverKey(m.collection, m.key);
            r.error = SyncError(SyncError::Cancelled,
                                PushRules::abortedMessage(causeMutation.id, m.tx,
                                                          QStringLiteral("conflict")),
                                QStringLiteral("server error code: aborted"));
            r.error.setRetryable(cause.error.isRetryable());
        }
        return;
    }

    for (const qsizetype i : std::as_const(pending))
        m_stored.insert(mutations.at(i).id, results->at(i));
    m_batch.keep();
}

void TestPushHandler::setAssignedKeys(const QString &collection, const QString &keyField)
{
    if (keyField.isEmpty())
        m_assignedKeys.remove(collection);
    else
        m_assignedKeys.insert(collection, keyField);
}

// One mutation: false (result holds its id and key) when it conflicts. In a collection with
// server-assigned keys an insert always makes a new record under a fresh key, as synq-server's
// does.
bool TestPushHandler::applyOne(const PushMutation &m, QList<TestStore::Undo> *undo,
                               PushResult *result)
{
    result->id = m.id;
    if (m.op == MutationType::Insert && assignsKeys(m.collection)) {
        insertUnderNewKey(m, undo, result);
        return true;
    }
    result->key = m_batch.serverKey(m.collection, m.key);
    const PushRules::RecordState current = m_store->stateOf(m.collection, result->key);
    const std::optional<qint64> expected =
            m_batch.expectedVersion(m.collection, result->key, m.baseVersion);
    if (PushRules::verdict(m.op, current, expected) == PushRules::Verdict::Conflict)
        return false;

    const std::optional<QJsonObject> data = PushRules::written(m.op, current, m.data);
    result->status = PushResult::Applied;
    result->version =
            m_store->write(m.collection, result->key, data ? &*data : nullptr, m.hlc, undo);
    result->hlc = m.hlc;
    m_batch.noteApplied(m.collection, m.key, result->key, result->version);
    return true;
}

void TestPushHandler::insertUnderNewKey(const PushMutation &m, QList<TestStore::Undo> *undo,
                                        PushResult *result)
{
    QString key = PushRules::assignedKey(m_store->currentVersion() + 1);
    while (m_store->find(m.collection, key)) { // only if the collection once had keys like it
        m_store->skipVersion();
        key = PushRules::assignedKey(m_store->currentVersion() + 1);
    }
    QJsonObject data = m.data;
    data.insert(m_assignedKeys.value(m.collection), key);
    result->status = PushResult::Applied;
    result->key = key;
    result->version = m_store->write(m.collection, key, &data, m.hlc, undo);
    result->hlc = m.hlc;
    m_batch.noteApplied(m.collection, m.key, key, result->version);
}

// The conflict of m on key as the store is now, with the stamp of the write that made it.
PushResult TestPushHandler::conflictResult(const PushMutation &m, const QString &key) const
{
    const TestStore::Entry current = m_store->stateOf(m.collection, key);
    const PushRules::Conflict c = PushRules::conflict(m.op, key, current, m.baseVersion);
    PushResult r;
    r.id = m.id;
    r.status = PushResult::Conflict;
    r.key = key;
    r.version = c.version;
    r.record = c.record;
    r.deleted = c.deleted;
    r.hlc = current.hlc;
    r.error = SyncError(SyncError::Conflict, c.message,
                        QStringLiteral("server error code: conflict"));
    r.error.setRetryable(false);
    return r;
}

} // namespace Testing
} // namespace Synq
