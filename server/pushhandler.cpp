// SPDX-License-Identifier: BSD-3-Clause
#include "pushhandler.h"

#include "serverlogging.h"
#include "serverstore.h"

namespace Synq {
namespace Server {

namespace {

QString itemId(const QString &collection, const QString &key)
{
    return collection + QChar(0) + key;
}

QJsonObject errorObject(const QString &code, const QString &message, bool retryable)
{
    return QJsonObject { { QStringLiteral("code"), code },
                         { QStringLiteral("message"), message },
                         { QStringLiteral("retryable"), retryable } };
}

QJsonObject appliedResult(const QString &id, const QString &key, qint64 version)
{
    return QJsonObject { { QStringLiteral("id"), id },
                         { QStringLiteral("status"), QStringLiteral("applied") },
                         { QStringLiteral("key"), key },
                         { QStringLiteral("version"), version } };
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
    m_produced.clear();
    m_assigned.clear();
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
            noteApplied(mutations.at(i), *seen, &m_produced, &m_assigned);
        } else {
            pending.append(i);
        }
    }
    // Remembered facts hold whatever happens to the rest of the transaction.
    m_produced.keep();
    m_assigned.keep();
    if (pending.isEmpty())
        return m_store->releaseSavepoint();

    // Facts of this transaction join the batch's only if it is applied.
    auto forget = [this] {
        m_produced.undo();
        m_assigned.undo();
    };
    QList<QJsonObject> applied;
    qsizetype failed = -1;
    QString failedKey;
    for (const qsizetype i : std::as_const(pending)) {
        const PushMutation &m = mutations.at(i);
        Verdict verdict = Verdict::Applied;
        Applied result;
        if (!applyOne(owner, m, &m_produced, &m_assigned, &verdict, &result, &failedKey)) {
            forget();
            m_store->rollbackToSavepoint();
            return false;
        }
        if (verdict != Verdict::Applied) {
            failed = i;
            break;
        }
        applied.append(appliedResult(m.id, result.key, result.version));
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
                    m.id, m_assigned.value(itemId(m.collection, m.key), m.key),
                    QStringLiteral("aborted"),
                    QStringLiteral("not applied: mutation %1 of transaction %2 ended in %3")
                            .arg(mutations.at(failed).id, m.tx,
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
    m_produced.keep();
    m_assigned.keep();
    return true;
}

/*
    The rules of one mutation (docs/protocol.md, Push):
    - the expected version is baseVersion, or — when an earlier mutation of this batch wrote
      the key — the version that one produced; baseVersion null skips the check;
    - insert: a conflict if a live record has the key (unless unchecked: it then overwrites);
      a removed key is written anew. In a collection with server-assigned keys it always makes
      a new record under a fresh key ("s" + its version), also written into the data's "id";
    - update: a conflict if the record is not live (removed or never written) — there is
      nothing to apply the changes to — or is at another version; otherwise the changed
      fields are set (a null value sets null);
    - remove: a conflict if the live record is at another version; removing a record that is
      already gone succeeds and writes a new tombstone.
*/
bool PushHandler::applyOne(const QString &owner, const PushMutation &m, Produced *produced,
                           Assigned *assigned, Verdict *verdict, Applied *applied,
                           QString *conflictKey)
{
    *verdict = Verdict::Applied;
    if (m.op == PushMutation::Insert && m_serverAssignedKeys.contains(m.collection)) {
        StoredRecord existing;
        qint64 version = 0;
        QString key;
        do {
            version = m_store->nextVersion();
            key = QStringLiteral("s%1").arg(version);
            if (!m_store->loadRecord(owner, m.collection, key, &existing))
                return false;
        } while (existing.exists); // only if the collection once had client keys like these
        QJsonObject data = m.data;
        data.insert(QStringLiteral("id"), key);
        if (!m_store->writeRecord(owner, m.collection, key, version, &data))
            return false;
        assigned->insert(itemId(m.collection, m.key), key);
        produced->insert(itemId(m.collection, key), version);
        *applied = { key, version };
        return true;
    }

    const QString key = assigned->value(itemId(m.collection, m.key), m.key);
    const QString item = itemId(m.collection, key);
    StoredRecord current;
    if (!m_store->loadRecord(owner, m.collection, key, &current))
        return false;
    std::optional<qint64> expected = m.baseVersion;
    if (expected && produced->contains(item))
        expected = produced->value(item);

    bool conflict = false;
    switch (m.op) {
    case PushMutation::Insert:
        conflict = current.isLive() && expected.has_value();
        break;
    case PushMutation::Update:
        conflict = !current.isLive() || (expected && *expected != current.version);
        break;
    case PushMutation::Remove:
        conflict = current.isLive() && expected && *expected != current.version;
        break;
    }
    if (conflict) {
        *verdict = Verdict::Conflict;
        *conflictKey = key;
        return true;
    }

    const qint64 version = m_store->nextVersion();
    bool written = false;
    if (m.op == PushMutation::Insert) {
        written = m_store->writeRecord(owner, m.collection, key, version, &m.data);
    } else if (m.op == PushMutation::Update) {
        QJsonObject data = current.data;
        for (auto it = m.data.constBegin(); it != m.data.constEnd(); ++it)
            data.insert(it.key(), it.value());
        written = m_store->writeRecord(owner, m.collection, key, version, &data);
    } else {
        written = m_store->writeRecord(owner, m.collection, key, version, nullptr);
    }
    if (!written)
        return false;
    produced->insert(item, version);
    *applied = { key, version };
    return true;
}

// The conflict result of m on key, from the record as it is now; empty on a database failure.
QJsonObject PushHandler::conflictResult(const QString &owner, const PushMutation &m,
                                        const QString &key)
{
    StoredRecord current;
    if (!m_store->loadRecord(owner, m.collection, key, &current))
        return QJsonObject();
    QString message;
    if (!current.exists)
        message = QStringLiteral("%1 does not exist").arg(key);
    else if (current.deleted)
        message = QStringLiteral("%1 was removed at version %2").arg(key).arg(current.version);
    else if (m.op == PushMutation::Insert)
        message = QStringLiteral("%1 already exists at version %2").arg(key).arg(current.version);
    else
        message = QStringLiteral("%1 is at version %2, not %3")
                          .arg(key)
                          .arg(current.version)
                          .arg(m.baseVersion ? QString::number(*m.baseVersion)
                                             : QStringLiteral("null"));
    return QJsonObject {
        { QStringLiteral("id"), m.id },
        { QStringLiteral("status"), QStringLiteral("conflict") },
        { QStringLiteral("key"), key },
        { QStringLiteral("version"), current.version },
        { QStringLiteral("record"),
          current.isLive() ? QJsonValue(current.data) : QJsonValue(QJsonValue::Null) },
        { QStringLiteral("deleted"), !current.isLive() },
        { QStringLiteral("error"), errorObject(QStringLiteral("conflict"), message, false) },
    };
}

void PushHandler::noteApplied(const PushMutation &m, const QJsonObject &result,
                              Produced *produced, Assigned *assigned) const
{
    if (result.value(QStringLiteral("status")).toString() != QLatin1String("applied"))
        return;
    const QString key = result.value(QStringLiteral("key")).toString();
    if (key != m.key)
        assigned->insert(itemId(m.collection, m.key), key);
    produced->insert(itemId(m.collection, key),
                     result.value(QStringLiteral("version")).toInteger());
}

} // namespace Server
} // namespace Synq
