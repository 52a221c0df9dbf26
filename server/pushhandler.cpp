// SPDX-License-Identifier: BSD-3-Clause
#include "pushhandler.h"

#include "serverlogging.h"
#include "serverstore.h"

namespace Synq {
namespace Server {

namespace {

QJsonObject errorObject(const QString &code, const QString &message, bool retryable)
{
    return QJsonObject { { QStringLiteral("code"), code },
                         { QStringLiteral("message"), message },
                         { QStringLiteral("retryable"), retryable } };
}

// "hlc" is left out when there is no stamp: what older clients got stays byte for byte the same.
void insertHlc(QJsonObject *result, const QString &hlc)
{
    if (!hlc.isEmpty())
        result->insert(QStringLiteral("hlc"), hlc);
}

QJsonObject appliedResult(const QString &id, const QString &key, qint64 version, const QString &hlc)
{
    QJsonObject result { { QStringLiteral("id"), id },
                         { QStringLiteral("status"), QStringLiteral("applied") },
                         { QStringLiteral("key"), key },
                         { QStringLiteral("version"), version } };
    insertHlc(&result, hlc);
    return result;
}

QJsonObject rejectedResult(const QString &id, const QString &key, const QString &code,
                           const QString &message, bool retryable)
{
    return QJsonObject { { QStringLiteral("id"), id },
                         { QStringLiteral("status"), QStringLiteral("rejected") },
                         { QStringLiteral("key"), key },
                         { QStringLiteral("error"), errorObject(code, message, retryable) } };
}

QJsonObject retryResult(const PushMutation &m, const QString &message)
{
    return QJsonObject { { QStringLiteral("id"), m.id },
                         { QStringLiteral("status"), QStringLiteral("retry") },
                         { QStringLiteral("key"), m.key },
                         { QStringLiteral("error"),
                           errorObject(QStringLiteral("unavailable"), message, true) } };
}

} // namespace

PushHandler::PushHandler(ServerStore *store, const QSet<QString> &serverAssignedKeys)
    : m_store(store), m_serverAssignedKeys(serverAssignedKeys)
{
}

PushHandler::Outcome PushHandler::run(const QString &owner, const PushRequest &request)
{
    const QList<PushMutation> &mutations = request.mutations;
    QList<QJsonObject> results(mutations.size());
    QList<bool> stored(mutations.size(), false); // the result was remembered from before
    m_batch.clear();
    Outcome outcome;
    auto retryFrom = [&](qsizetype begin, qsizetype end) {
        for (qsizetype i = begin; i < end; ++i)
            results[i] = retryResult(mutations.at(i),
                                     QStringLiteral("the server's database is unavailable; send "
                                                    "this again later"));
    };

    bool began = false;
    for (qsizetype begin = 0; begin < mutations.size();) {
        qsizetype end = begin + 1;
        while (end < mutations.size() && mutations.at(end).tx == mutations.at(begin).tx)
            ++end;
        if (!outcome.databaseFailed) {
            if (!began)
                began = m_store->beginWrite();
            if (!began || !runTransaction(owner, mutations, begin, end, &results, &stored)) {
                outcome.databaseFailed = true;
                qCWarning(lcServer,
                          "push: transaction %s of batch %s and those after it left for "
                          "a retry: %s",
                          qPrintable(mutations.at(begin).tx), qPrintable(request.batch),
                          qPrintable(m_store->lastError()));
            }
        }
        if (outcome.databaseFailed)
            retryFrom(begin, end);
        begin = end;
    }
    // One commit (one sync to disk) for the whole batch; each transaction's all-or-nothing is
    // kept by its savepoint.
    if (began && !m_store->commit()) {
        outcome.databaseFailed = true;
        qCWarning(lcServer, "push: batch %s left for a retry: %s", qPrintable(request.batch),
                  qPrintable(m_store->lastError()));
        for (qsizetype i = 0; i < mutations.size(); ++i) {
            if (!stored.at(i))
                retryFrom(i, i + 1);
        }
    }
    for (qsizetype i = 0; i < mutations.size(); ++i) {
        const QJsonObject &result = results.at(i);
        if (result.value(QStringLiteral("status")).toString() != QLatin1String("retry"))
            outcome.anyDecided = true;
        outcome.results.append(result);
    }
    return outcome;
}

bool PushHandler::runTransaction(const QString &owner, const QList<PushMutation> &mutations,
                                 qsizetype begin, qsizetype end, QList<QJsonObject> *results,
                                 QList<bool> *stored)
{
    if (!m_store->savepoint())
        return false;

    QList<qsizetype> pending;
    for (qsizetype i = begin; i < end; ++i) {
        std::optional<QJsonObject> seen;
        if (!m_store->findResult(owner, mutations.at(i).id, &seen)) {
            m_store->rollbackToSavepoint();
            return false;
        }
        if (seen) {
            (*results)[i] = *seen;
            (*stored)[i] = true;
            noteStored(mutations.at(i), *seen);
        } else {
            pending.append(i);
        }
    }
    // Remembered facts hold whatever happens to the rest of the transaction.
    m_batch.keep();
    if (pending.isEmpty())
        return m_store->releaseSavepoint();

    // Facts of this transaction join the batch's only if it is applied.
    auto forget = [this] { m_batch.undo(); };
    QList<QJsonObject> applied;
    qsizetype failed = -1;
    QString failedKey;
    for (const qsizetype i : std::as_const(pending)) {
        const PushMutation &m = mutations.at(i);
        PushRules::Verdict verdict = PushRules::Verdict::Apply;
        Applied result;
        if (!applyOne(owner, m, &verdict, &result, &failedKey)) {
            forget();
            m_store->rollbackToSavepoint();
            return false;
        }
        if (verdict != PushRules::Verdict::Apply) {
            failed = i;
            break;
        }
        applied.append(appliedResult(m.id, result.key, result.version, m.hlc));
    }

    if (failed >= 0) {
        forget();
        if (!m_store->rollbackToSavepoint())
            return false;
        // Read after the rollback: the record as it is, not as this transaction left it.
        const QJsonObject cause = conflictResult(owner, mutations.at(failed), failedKey);
        if (cause.isEmpty())
            return false;
        const bool retryable = cause.value(QStringLiteral("error"))
                                       .toObject()
                                       .value(QStringLiteral("retryable"))
                                       .toBool();
        for (const qsizetype i : std::as_const(pending)) {
            const PushMutation &m = mutations.at(i);
            if (i == failed) {
                (*results)[i] = cause;
                continue;
            }
            (*results)[i] = rejectedResult(
                    m.id, m_batch.serverKey(m.collection, m.key), QStringLiteral("aborted"),
                    PushRules::abortedMessage(mutations.at(failed).id, m.tx,
                                              cause.value(QStringLiteral("status")).toString()),
                    retryable);
        }
        return true;
    }

    for (qsizetype n = 0; n < pending.size(); ++n) {
        if (!m_store->rememberResult(owner, mutations.at(pending.at(n)).id, applied.at(n))) {
            forget();
            m_store->rollbackToSavepoint();
            return false;
        }
    }
    if (!m_store->releaseSavepoint()) {
        forget();
        return false;
    }
    for (qsizetype n = 0; n < pending.size(); ++n)
        (*results)[pending.at(n)] = applied.at(n);
    m_batch.keep();
    return true;
}

/*
    One mutation under the rules of docs/protocol.md (PushRules): it goes to the key the batch
    redirected it to, is checked against the version PushRules::Batch expects, and writes what
    PushRules::written() says. In a collection with server-assigned keys an insert always
    makes a new record under a fresh key instead.
*/
bool PushHandler::applyOne(const QString &owner, const PushMutation &m,
                           PushRules::Verdict *verdict, Applied *applied, QString *conflictKey)
{
    *verdict = PushRules::Verdict::Apply;
    if (m.op == MutationType::Insert && m_serverAssignedKeys.contains(m.collection))
        return insertUnderNewKey(owner, m, applied);

    const QString key = m_batch.serverKey(m.collection, m.key);
    StoredRecord stored;
    if (!m_store->loadRecord(owner, m.collection, key, &stored))
        return false;
    const PushRules::RecordState current = stored.state();
    *verdict = PushRules::verdict(m.op, current,
                                  m_batch.expectedVersion(m.collection, key, m.baseVersion));
    if (*verdict == PushRules::Verdict::Conflict) {
        *conflictKey = key;
        return true;
    }

    const qint64 version = m_store->nextVersion();
    const std::optional<QJsonObject> data = PushRules::written(m.op, current, m.data);
    if (!m_store->writeRecord(owner, m.collection, key, version, data ? &*data : nullptr, m.hlc))
        return false;
    m_batch.noteApplied(m.collection, m.key, key, version);
    *applied = { key, version };
    return true;
}

// The new key is PushRules::assignedKey() of its version, also written into the data's "id".
bool PushHandler::insertUnderNewKey(const QString &owner, const PushMutation &m,
                                    Applied *applied)
{
    StoredRecord existing;
    qint64 version = 0;
    QString key;
    do {
        version = m_store->nextVersion();
        key = PushRules::assignedKey(version);
        if (!m_store->loadRecord(owner, m.collection, key, &existing))
            return false;
    } while (existing.exists); // only if the collection once had client keys like these
    QJsonObject data = m.data;
    data.insert(QStringLiteral("id"), key);
    if (!m_store->writeRecord(owner, m.collection, key, version, &data, m.hlc))
        return false;
    m_batch.noteApplied(m.collection, m.key, key, version);
    *applied = { key, version };
    return true;
}

// The conflict result of m on key, from the record as it is now (with the stamp of the write
// that made it, for LastWriteWins); empty on a database failure.
QJsonObject PushHandler::conflictResult(const QString &owner, const PushMutation &m,
                                        const QString &key)
{
    StoredRecord current;
    if (!m_store->loadRecord(owner, m.collection, key, &current))
        return QJsonObject();
    const PushRules::Conflict c = PushRules::conflict(m.op, key, current.state(), m.baseVersion);
    QJsonObject result {
        { QStringLiteral("id"), m.id },
        { QStringLiteral("status"), QStringLiteral("conflict") },
        { QStringLiteral("key"), key },
        { QStringLiteral("version"), c.version },
        { QStringLiteral("record"),
          c.record ? QJsonValue(*c.record) : QJsonValue(QJsonValue::Null) },
        { QStringLiteral("deleted"), c.deleted },
        { QStringLiteral("error"), errorObject(QStringLiteral("conflict"), c.message, false) },
    };
    insertHlc(&result, current.hlc);
    return result;
}

// A result remembered from before counts for the batch as if applied now.
void PushHandler::noteStored(const PushMutation &m, const QJsonObject &result)
{
    if (result.value(QStringLiteral("status")).toString() != QLatin1String("applied"))
        return;
    m_batch.noteApplied(m.collection, m.key, result.value(QStringLiteral("key")).toString(),
                        result.value(QStringLiteral("version")).toInteger());
}

} // namespace Server
} // namespace Synq
