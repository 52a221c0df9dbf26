// SPDX-License-Identifier: BSD-3-Clause
#include <synq/pushrules.h>

#include <synq/identifier.h>

namespace Synq {
namespace PushRules {

namespace {

// 2^53: beyond it a JSON number no longer holds every integer.
constexpr double MaxSafeInteger = 9007199254740992.0;

} // namespace

/*!
    \namespace Synq::PushRules
    \inmodule Synq
    \brief The rules a backend applies to a push (docs/protocol.md, Push) and to a fetch of
    one record, as pure functions.

    synq-server and Synq::Testing::TestBackend decide every push and fetch with these, so the
    two answer alike (tests/auto/testing/tst_pushrulesparity.cpp holds them to it). See
    pushrules.h for the pieces.
*/

/*!
    Returns the version a mutation with \a baseVersion is checked against, or nullopt for no
    check: \a producedInBatch when an earlier mutation of the batch wrote the key, else
    \a baseVersion.

    A mutation after an earlier write of its key in the same batch was made by a client that
    had not seen that write's version yet (or had: then its base is that version anyway), so
    whatever base it names is checked as the version the earlier one produced. A null base
    stays unchecked.
*/
std::optional<qint64> expectedVersion(std::optional<qint64> baseVersion,
                                      std::optional<qint64> producedInBatch)
{
    if (baseVersion && producedInBatch)
        return producedInBatch;
    return baseVersion;
}

/*!
    Returns whether \a op on \a current, checked against \a expected (nullopt: unchecked),
    is applied or is a conflict (docs/protocol.md, Push, per operation):
    - insert conflicts when a live record has the key and the check is on; with no check it
      overwrites, and a removed or never-written key is written anew;
    - update conflicts when the key is not live — there is nothing to apply its changes to —
      checked or not, or when it is live at another version than expected;
    - remove conflicts only when the key is live at another version than expected: removing a
      key that is gone writes a new tombstone.
*/
Verdict verdict(MutationType op, const RecordState &current, std::optional<qint64> expected)
{
    const bool otherVersion = expected && *expected != current.version;
    bool conflict = false;
    switch (op) {
    case MutationType::Insert:
        conflict = current.isLive() && expected.has_value();
        break;
    case MutationType::Update:
        conflict = !current.isLive() || otherVersion;
        break;
    case MutationType::Remove:
        conflict = current.isLive() && otherVersion;
        break;
    }
    return conflict ? Verdict::Conflict : Verdict::Apply;
}

/*!
    Returns \a record with every field of \a changes set: the one way an update's changes are
    applied, on the server, in TestBackend and in the client's optimistic overlay.

    A field set to null stays, with the value null: changes are a partial record, not a patch
    language, so there is no way to delete a field. Nested objects and arrays are replaced
    whole.
*/
QJsonObject applyChanges(QJsonObject record, const QJsonObject &changes)
{
    for (auto it = changes.constBegin(); it != changes.constEnd(); ++it)
        record.insert(it.key(), it.value());
    return record;
}

/*!
    Returns what an applied \a op with \a data (an insert's record, an update's changes)
    writes over \a current: a record, or nullopt for the tombstone of a remove.
*/
std::optional<QJsonObject> written(MutationType op, const RecordState &current,
                                   const QJsonObject &data)
{
    switch (op) {
    case MutationType::Insert:
        return data;
    case MutationType::Update:
        return applyChanges(current.data, data);
    case MutationType::Remove:
        break;
    }
    return std::nullopt;
}

/*!
    Returns the key a collection with server-assigned keys gives the insert written at
    \a version: "s" and the version, so keys never repeat within one backend.
*/
QString assignedKey(qint64 version)
{
    return QStringLiteral("s%1").arg(version);
}

/*!
    Returns the conflict result of \a op on \a key as \a current stands after the failed
    transaction was rolled back. The message names \a baseVersion as the client sent it,
    which is what it can find in its outbox; where the rolled-back record is at that version,
    an earlier mutation of the same push was what it conflicted with, and the message says so.
*/
Conflict conflict(MutationType op, const QString &key, const RecordState &current,
                  std::optional<qint64> baseVersion)
{
    Conflict c;
    c.version = current.version;
    c.deleted = !current.isLive();
    if (current.isLive())
        c.record = current.data;
    switch (current.state) {
    case RecordState::Missing:
        c.message = QStringLiteral("%1 does not exist").arg(key);
        break;
    case RecordState::Removed:
        c.message = QStringLiteral("%1 was removed at version %2").arg(key).arg(current.version);
        break;
    case RecordState::Live:
        if (op == MutationType::Insert) {
            c.message = QStringLiteral("%1 already exists at version %2")
                                .arg(key)
                                .arg(current.version);
        } else if (baseVersion == current.version) {
            // The rolled-back record is what the client expected: an earlier mutation of the
            // same push (a remove, say) changed it before this one was checked.
            c.message = QStringLiteral("%1 at version %2 was changed by an earlier mutation of "
                                       "the same push")
                                .arg(key)
                                .arg(current.version);
        } else {
            c.message = QStringLiteral("%1 is at version %2, not %3")
                                .arg(key)
                                .arg(current.version)
                                .arg(baseVersion ? QString::number(*baseVersion)
                                                 : QStringLiteral("null"));
        }
        break;
    }
    return c;
}

/*!
    Returns the message of a sibling that was not applied because mutation \a causeId of
    transaction \a tx ended in \a causeStatus ("conflict").
*/
QString abortedMessage(const QString &causeId, const QString &tx, const QString &causeStatus)
{
    return QStringLiteral("not applied: mutation %1 of transaction %2 ended in %3")
            .arg(causeId, tx, causeStatus);
}

// --- Batch -----------------------------------------------------------------------------------

/*!
    \class Synq::PushRules::Batch
    \inmodule Synq
    \brief What the mutations of one push applied so far mean for the ones after them.

    A backend notes every applied mutation (and every stored result it returns for a repeated
    mutation id) with noteApplied(), calls keep() when a transaction is applied and undo()
    when it was rolled back, so that a failed transaction leaves nothing behind for the rest
    of the push. clear() starts the next push.
*/

QString Batch::serverKey(const QString &collection, const QString &key) const
{
    return m_assigned.value(itemId(collection, key)).value_or(key);
}

std::optional<qint64> Batch::expectedVersion(const QString &collection, const QString &serverKey,
                                             std::optional<qint64> baseVersion) const
{
    if (!baseVersion)
        return std::nullopt; // no lookup for unchecked mutations
    return PushRules::expectedVersion(baseVersion, m_produced.value(itemId(collection, serverKey)));
}

void Batch::noteApplied(const QString &collection, const QString &requestKey, const QString &key,
                        qint64 version)
{
    if (key != requestKey)
        m_assigned.insert(itemId(collection, requestKey), key);
    m_produced.insert(itemId(collection, key), version);
}

void Batch::keep()
{
    m_produced.keep();
    m_assigned.keep();
}

void Batch::undo()
{
    m_produced.undo();
    m_assigned.undo();
}

void Batch::clear()
{
    m_produced.clear();
    m_assigned.clear();
}

// --- validation ------------------------------------------------------------------------------

QString Problem::message() const
{
    return field.isEmpty() ? text : field + QStringLiteral(": ") + text;
}

QString mutationField(qsizetype index, const char *name)
{
    return QStringLiteral("mutations[%1].%2").arg(index).arg(QLatin1String(name));
}

std::optional<Problem> checkMutationCount(qsizetype count)
{
    if (count < 1)
        return Problem {
            QStringLiteral("mutations"),
            QStringLiteral("empty (1 to %1 items)").arg(Protocol::MaxMutationsPerPush)
        };
    if (count > Protocol::MaxMutationsPerPush)
        return Problem { QStringLiteral("mutations"),
                         QStringLiteral("%1 items, at most %2 per push: split the batch")
                                 .arg(count)
                                 .arg(Protocol::MaxMutationsPerPush),
                         413 };
    return std::nullopt;
}

// Keys and ids are stored and compared as text: no NUL (PostgreSQL text cannot hold it) and no
// lone surrogate (it would not survive the UTF-8 round trip).
std::optional<QString> checkText(const QString &text, qsizetype maxLength)
{
    if (text.isEmpty() || text.size() > maxLength)
        return QStringLiteral("must be 1 to %1 characters").arg(maxLength);
    if (!text.isValidUtf16() || text.contains(QChar(0)))
        return QStringLiteral("contains NUL or invalid UTF-16");
    return std::nullopt;
}

std::optional<QString> checkCollection(const QString &name)
{
    if (isValidIdentifier(name))
        return std::nullopt;
    return QStringLiteral("not an identifier ([A-Za-z_][A-Za-z0-9_]*, at most 64 characters, not "
                          "starting with sqlite_)");
}

std::optional<QString> checkBaseVersion(const QJsonValue &value)
{
    if (value.isUndefined())
        return QStringLiteral("missing (an integer >= 0, or null)");
    if (value.isNull())
        return std::nullopt;
    const double number = value.toDouble(-1);
    if (!value.isDouble() || number < 0 || number >= MaxSafeInteger
        || number != double(value.toInteger()))
        return QStringLiteral("not an integer >= 0, or null");
    return std::nullopt;
}

std::optional<QString> checkChanges(const QJsonObject &changes)
{
    if (changes.isEmpty())
        return QStringLiteral("empty");
    return std::nullopt;
}

std::optional<Problem> BatchShape::add(qsizetype index, const QString &id, const QString &tx)
{
    const auto seen = m_ids.constFind(id);
    if (seen != m_ids.cend())
        return Problem { mutationField(index, "id"),
                         QStringLiteral("the same id as mutations[%1]").arg(*seen) };
    m_ids.insert(id, index);
    // A tx seen before must be the previous mutation's.
    if (m_lastTx && *m_lastTx != tx) {
        m_closedTransactions.insert(*m_lastTx);
        if (m_closedTransactions.contains(tx))
            return Problem { mutationField(index, "tx"),
                             QStringLiteral("transaction %1 is not adjacent: its mutations must "
                                            "follow each other")
                                     .arg(tx) };
    }
    m_lastTx = tx;
    return std::nullopt;
}

/*!
    Returns the first problem of \a request in the order synq-server reads a push body
    (client, batch, the number of mutations, then each mutation field by field), or nullopt
    when it may be applied. Backends that receive decoded requests (TestBackend) refuse with
    it what synq-server refuses, in the same words.
*/
std::optional<Problem> checkPush(const Protocol::PushRequest &request)
{
    if (!request.client.isEmpty()) {
        if (auto text = checkText(request.client, Protocol::MaxIdLength))
            return Problem { QStringLiteral("client"), *text };
    }
    if (auto text = checkText(request.batch, Protocol::MaxIdLength))
        return Problem { QStringLiteral("batch"), *text };
    const QList<Protocol::PushMutation> &mutations = request.mutations;
    if (auto problem = checkMutationCount(mutations.size()))
        return problem;
    BatchShape shape;
    for (qsizetype i = 0; i < mutations.size(); ++i) {
        const Protocol::PushMutation &m = mutations.at(i);
        auto at = [i](const char *field, const std::optional<QString> &text) {
            return text ? std::optional<Problem>(Problem { mutationField(i, field), *text })
                        : std::nullopt;
        };
        std::optional<Problem> problem = at("id", checkText(m.id, Protocol::MaxIdLength));
        if (!problem)
            problem = at("tx", checkText(m.tx, Protocol::MaxIdLength));
        if (!problem)
            problem = shape.add(i, m.id, m.tx);
        if (!problem)
            problem = at("collection", checkCollection(m.collection));
        if (!problem)
            problem = at("key", checkText(m.key, Protocol::MaxKeyLength));
        if (!problem)
            problem = at("baseVersion",
                         checkBaseVersion(m.baseVersion ? QJsonValue(*m.baseVersion)
                                                        : QJsonValue(QJsonValue::Null)));
        if (!problem && m.op == MutationType::Update)
            problem = at("changes", checkChanges(m.data));
        if (problem)
            return problem;
    }
    return std::nullopt;
}

// --- fetch -----------------------------------------------------------------------------------

/*!
    Returns the first problem of \a request in the order synq-server reads its query
    (collection, then key), or nullopt when it may be answered.
*/
std::optional<Problem> checkFetch(const Protocol::FetchRequest &request)
{
    if (auto text = checkCollection(request.collection))
        return Problem { QStringLiteral("collection"), *text };
    if (auto text = checkText(request.key, Protocol::MaxKeyLength))
        return Problem { QStringLiteral("key"), *text };
    return std::nullopt;
}

/*!
    Returns the answer to a fetch of \a key when the backend holds \a current under it,
    written with the stamp \a hlc (empty: none): Found with the record, Gone with the
    tombstone's version, or Missing — a key never written, or one whose tombstone the
    backend no longer keeps — with neither version nor stamp.
*/
Protocol::FetchResponse fetchAnswer(const QString &key, const RecordState &current,
                                    const QString &hlc)
{
    Protocol::FetchResponse answer;
    answer.key = key;
    switch (current.state) {
    case RecordState::Live:
        answer.status = Protocol::FetchResponse::Found;
        answer.data = current.data;
        break;
    case RecordState::Removed:
        answer.status = Protocol::FetchResponse::Gone;
        break;
    case RecordState::Missing:
        answer.status = Protocol::FetchResponse::Missing;
        return answer;
    }
    answer.version = current.version;
    answer.hlc = hlc;
    return answer;
}

} // namespace PushRules
} // namespace Synq
