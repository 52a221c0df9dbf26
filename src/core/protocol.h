// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PROTOCOL_H
#define SYNQ_PROTOCOL_H

#include <synq/records.h>
#include <synq/syncerror.h>
#include <synq/synq_export.h>

#include <QtCore/QByteArray>
#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtCore/QList>
#include <QtCore/QMetaType>
#include <QtCore/QString>

#include <optional>

/*
    The Synq sync protocol v1 (docs/protocol.md) as plain values and strict codecs. No I/O:
    transports send what encode*() makes and hand what they receive to decode*(), which accept
    exactly what the protocol allows and nothing else — a malformed or hostile response is a
    Protocol error, never a partial result.
*/

namespace Synq {
namespace Protocol {

constexpr int MaxMutationsPerPush = 500;
constexpr int MaxChangesPerPull = 1000;
constexpr int MaxKeyLength = 512;
constexpr int MaxIdLength = 128;
// A hybrid logical clock stamp in "hlc": the 23 characters of wall time and counter, then a
// node of at most MaxIdLength.
constexpr int MaxHlcLength = 23 + MaxIdLength;

struct PushMutation
{
    QString id;
    QString tx;
    QString collection;
    MutationType op = MutationType::Insert;
    QString key;
    std::optional<qint64> baseVersion = 0; // nullopt: no conflict check
    QJsonObject data; // insert: the whole record; update: the changes
    QString hlc; // HybridClock::format() of the write, for LastWriteWins; empty: none
    // What the caller attached to the mutation (MutationRecord::metadata), any JSON value,
    // sent as "metadata" for custom backends and logs; undefined or null: none (left out).
    QJsonValue metadata;
};

struct PushRequest
{
    QString client;
    QString batch;
    QList<PushMutation> mutations;
};

struct PushResult
{
    enum Status { Applied, Conflict, Rejected, Retry };
    QString id;
    Status status = Applied;
    QString key;
    qint64 version = 0;
    std::optional<QJsonObject> record; // conflict: the server's current record
    bool deleted = false; // conflict: the record was removed on the server
    // applied: the stamp stored with the write (the mutation's); conflict: the stamp of the
    // write that made the server's current state of the key. Empty: none.
    QString hlc;
    SyncError error;
};

struct PushResponse
{
    QList<PushResult> results;
};

struct PullRequest
{
    QString collection;
    QString cursor;
    int limit = 500;
};

struct Change
{
    QString collection;
    QString key;
    qint64 version = 0;
    bool deleted = false;
    QJsonObject data;
    QString hlc; // the stamp of the write that made this version (upsert or delete); empty: none
};

struct PullResponse
{
    QList<Change> changes;
    QString cursor;
    bool hasMore = false;
};

// GET /v1/record: the server's state of one key now.
struct FetchRequest
{
    QString collection;
    QString key;
};

struct FetchResponse
{
    // Found: a live record. Gone: removed, and the server still keeps its tombstone.
    // Missing: never written, or its tombstone was pruned past the tombstone horizon.
    enum Status { Found, Gone, Missing };
    Status status = Missing;
    QString key;
    qint64 version = 0; // Found: the record's version; Gone: the tombstone's version; Missing: 0
    QJsonObject data; // Found only
    QString hlc; // the stamp of the write that made this state; empty: none
};

// What is wrong with hlc as the stamp of a mutation, result or change, or nullopt when it
// is one: HybridClock::format() text (HybridClock::parse() accepts it) of at most
// MaxHlcLength UTF-16 units, without NUL or broken UTF-16. An empty value is no stamp and is
// refused here: a value without a stamp leaves the field out.
SYNQ_EXPORT std::optional<QString> checkHlc(const QString &hlc);

// Lowercase hex SHA-256 of the mutation ids joined by '\n'.
SYNQ_EXPORT QString batchId(const QList<PushMutation> &mutations);

SYNQ_EXPORT QByteArray encodePushRequest(const PushRequest &request);

// Decodes a push response for request: exactly one well-formed result per mutation, in order.
SYNQ_EXPORT bool decodePushResponse(const QByteArray &body, const PushRequest &request,
                                    PushResponse *out, SyncError *error);

// Decodes a page of changes for request (every change must be of the requested collection).
SYNQ_EXPORT bool decodePullResponse(const QByteArray &body, const PullRequest &request,
                                    PullResponse *out, SyncError *error);

// The body of a fetch answer (docs/protocol.md, Fetch one record), as a backend sends it:
// "data" only for Found, "version" not for Missing, "hlc" left out when empty.
SYNQ_EXPORT QByteArray encodeFetchResponse(const FetchResponse &response);

// Decodes the answer to a fetch of request.key: its key must be the one asked for.
SYNQ_EXPORT bool decodeFetchResponse(const QByteArray &body, const FetchRequest &request,
                                     FetchResponse *out, SyncError *error);

// The error of a non-2xx response: its JSON error body when it has one, else one made from
// the status. retryAfterMs is taken over into nothing here: transports add it.
SYNQ_EXPORT SyncError errorFromResponse(int httpStatus, const QByteArray &body);
// The same for a response whose body is {"error": {"code": code, "message": message}}: the
// error a transport reports for a refusal it decides itself, worded as the server words it.
SYNQ_EXPORT SyncError errorFromResponse(int httpStatus, const QString &code,
                                        const QString &message);

// Milliseconds to wait from a Retry-After header value (seconds or an HTTP date, relative to
// now); -1 if absent or malformed.
SYNQ_EXPORT qint64 parseRetryAfter(const QByteArray &value, const QDateTime &now);

} // namespace Protocol
} // namespace Synq

Q_DECLARE_METATYPE(Synq::Protocol::PullRequest)
Q_DECLARE_METATYPE(Synq::Protocol::PullResponse)
Q_DECLARE_METATYPE(Synq::Protocol::FetchRequest)
Q_DECLARE_METATYPE(Synq::Protocol::FetchResponse)

#endif
