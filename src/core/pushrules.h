// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PUSHRULES_H
#define SYNQ_PUSHRULES_H

#include <synq/protocol.h>
#include <synq/records.h>
#include <synq/synq_export.h>

#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtCore/QList>
#include <QtCore/QSet>
#include <QtCore/QString>

#include <optional>
#include <utility>

/*
    The rules a backend applies to a push (docs/protocol.md, Push) and to a fetch of one
    record, as pure functions and values: what a mutation is checked against, whether it
    conflicts, what it writes, how a conflict and a refusal are worded. synq-server and
    Synq::Testing::TestBackend both decide with these, so the two cannot drift apart; each
    keeps only its storage (a database with savepoints, an in-memory map with an undo list)
    and the shape of its answers (JSON, Protocol::PushResult).
*/

namespace Synq {
namespace PushRules {

// What a backend holds under a key when a mutation reaches it.
struct RecordState
{
    enum State { Missing, Live, Removed };
    State state = Missing; // Missing: never written
    qint64 version = 0; // the live record's or the tombstone's; 0 when Missing
    QJsonObject data; // the live record

    bool isLive() const { return state == Live; }
    static RecordState missing() { return RecordState(); }
    static RecordState live(qint64 version, const QJsonObject &data)
    {
        return RecordState { Live, version, data };
    }
    static RecordState removed(qint64 version) { return RecordState { Removed, version, {} }; }
};

enum class Verdict { Apply, Conflict };

// The version a mutation is checked against, nullopt for none (baseVersion null): the
// version an earlier mutation of the batch produced on the key, if one did, else baseVersion.
SYNQ_EXPORT std::optional<qint64> expectedVersion(std::optional<qint64> baseVersion,
                                                  std::optional<qint64> producedInBatch);

// Whether op on current, checked against expected, is applied or is a conflict.
SYNQ_EXPORT Verdict verdict(MutationType op, const RecordState &current,
                            std::optional<qint64> expected);

// record with every field of changes set (a null value sets the field to null).
SYNQ_EXPORT QJsonObject applyChanges(QJsonObject record, const QJsonObject &changes);

// What an applied op writes over current: the record (an insert's data, or current's record
// with an update's changes applied), or nullopt for the tombstone of a remove.
SYNQ_EXPORT std::optional<QJsonObject> written(MutationType op, const RecordState &current,
                                               const QJsonObject &data);

// The key a backend with server-assigned keys gives the insert it writes at version ("s42").
SYNQ_EXPORT QString assignedKey(qint64 version);

// What a conflict result carries: the server's state of the key as it is after the failed
// transaction was rolled back.
struct Conflict
{
    qint64 version = 0;
    std::optional<QJsonObject> record; // nullopt when the key is not live
    bool deleted = false; // removed or never written
    QString message; // "k1 is at version 19, not 17"
};
SYNQ_EXPORT Conflict conflict(MutationType op, const QString &key, const RecordState &current,
                              std::optional<qint64> baseVersion);

// The message of a sibling not applied because mutation causeId of tx ended in causeStatus.
SYNQ_EXPORT QString abortedMessage(const QString &causeId, const QString &tx,
                                   const QString &causeStatus);

/*
    What the mutations of one batch applied so far mean for the ones after them: the version
    each produced on its key, and the keys the server assigned to inserts (the client's key is
    redirected to them). Facts noted since the last keep() are undone by undo(): a transaction
    that was rolled back must leave nothing behind for the rest of the batch.
*/
class SYNQ_EXPORT Batch
{
public:
    // The key a mutation on key of collection goes to: the key the server assigned to an
    // earlier insert of the batch under key, else key itself.
    QString serverKey(const QString &collection, const QString &key) const;
    // expectedVersion() of a mutation on serverKey with baseVersion in this batch.
    std::optional<qint64> expectedVersion(const QString &collection, const QString &serverKey,
                                          std::optional<qint64> baseVersion) const;

    // A mutation on requestKey was applied (now, or its stored result is returned) under key
    // at version.
    void noteApplied(const QString &collection, const QString &requestKey, const QString &key,
                     qint64 version);
    // The facts noted since the last keep() or undo() stand / are forgotten.
    void keep();
    void undo();
    void clear();

private:
    // A hash whose changes since the last keep() can be undone. (Copying the batch's facts for
    // every transaction instead made a 500-transaction push quadratic.)
    template<typename V>
    class Journaled
    {
    public:
        std::optional<V> value(const QString &key) const
        {
            const auto it = m_hash.constFind(key);
            return it == m_hash.cend() ? std::nullopt : std::optional<V>(*it);
        }
        void insert(const QString &key, const V &value)
        {
            m_undo.append({ key, this->value(key) });
            m_hash.insert(key, value);
        }
        void keep() { m_undo.clear(); }
        void undo()
        {
            for (auto it = m_undo.crbegin(); it != m_undo.crend(); ++it) {
                if (it->second)
                    m_hash.insert(it->first, *it->second);
                else
                    m_hash.remove(it->first);
            }
            m_undo.clear();
        }
        void clear()
        {
            m_hash.clear();
            m_undo.clear();
        }

    private:
        QHash<QString, V> m_hash;
        QList<std::pair<QString, std::optional<V>>> m_undo;
    };

    Journaled<qint64> m_produced; // itemId -> the version the last applied mutation produced
    Journaled<QString> m_assigned; // itemId as the client named it -> the server's key
};

/*
    Validation (docs/protocol.md, Push: Validation): a push with any defect is refused whole.
    A Problem names the field ("mutations[2].collection") and what is wrong with it.
*/
struct SYNQ_EXPORT Problem
{
    QString field;
    QString text;
    int httpStatus = 400; // 413: more mutations than a push may carry
    QString message() const; // "mutations[2].collection: not an identifier (...)"
};

// "mutations[index].name"
SYNQ_EXPORT QString mutationField(qsizetype index, const char *name);

// Each returns what is wrong with a value, or nullopt when it is fine.
SYNQ_EXPORT std::optional<Problem> checkMutationCount(qsizetype count);
// Ids and keys: 1 to maxLength UTF-16 units, no NUL, no broken UTF-16.
SYNQ_EXPORT std::optional<QString> checkText(const QString &text, qsizetype maxLength);
SYNQ_EXPORT std::optional<QString> checkCollection(const QString &name);
// An integer from 0 to 2^53 - 1, or null.
SYNQ_EXPORT std::optional<QString> checkBaseVersion(const QJsonValue &value);
SYNQ_EXPORT std::optional<QString> checkChanges(const QJsonObject &changes);

// The checks across the mutations of a push, fed one mutation at a time in request order:
// no mutation id twice, the mutations of one transaction adjacent.
class SYNQ_EXPORT BatchShape
{
public:
    std::optional<Problem> add(qsizetype index, const QString &id, const QString &tx);

private:
    QHash<QString, qsizetype> m_ids; // mutation id -> index
    QSet<QString> m_closedTransactions;
    std::optional<QString> m_lastTx;
};

// All of the above for a decoded push, in the order synq-server reads a push body: the first
// problem found. An empty client id counts as none (the codec leaves it out).
SYNQ_EXPORT std::optional<Problem> checkPush(const Protocol::PushRequest &request);

/*
    Fetching one record (docs/protocol.md, Fetch one record) is decided here too, so that
    synq-server and TestBackend answer it alike: the request's problem (field "collection" or
    "key"), and the answer for what the backend holds under the key with the stamp of the
    write that made it. A backend that pruned a tombstone holds nothing there: Missing.
*/
SYNQ_EXPORT std::optional<Problem> checkFetch(const Protocol::FetchRequest &request);
SYNQ_EXPORT Protocol::FetchResponse fetchAnswer(const QString &key, const RecordState &current,
                                                const QString &hlc);

} // namespace PushRules
} // namespace Synq

#endif
