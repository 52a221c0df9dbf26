// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PROTOCOL_H
#define SYNQ_PROTOCOL_H

#include <synq/records.h>
#include <synq/syncerror.h>
#include <synq/synq_export.h>

#include <QtCore/QByteArray>
#include <QtCore/QJsonObject>
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

// The error of a non-2xx response: its JSON error body when it has one, else one made from
// the status. retryAfterMs is taken over into nothing here: transports add it.
SYNQ_EXPORT SyncError errorFromResponse(int httpStatus, const QByteArray &body);

// Milliseconds to wait from a Retry-After header value (seconds or an HTTP date, relative to
// now); -1 if absent or malformed.
SYNQ_EXPORT qint64 parseRetryAfter(const QByteArray &value, const QDateTime &now);

} // namespace Protocol
} // namespace Synq

Q_DECLARE_METATYPE(Synq::Protocol::PullRequest)
Q_DECLARE_METATYPE(Synq::Protocol::PullResponse)

#endif
