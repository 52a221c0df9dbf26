// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_CONFLICTRESOLUTION_H
#define SYNQ_CONFLICTRESOLUTION_H

#include <synq/records.h>
#include <synq/synq_export.h>

#include <QtCore/QHash>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtCore/QString>

#include <functional>
#include <optional>

/*
    What a collection's conflict policy makes of a push conflict, as pure functions: the
    three-way field merge and the outcome of each policy. The inputs are the local record (the
    optimistic state the user sees, nullopt when the local change removes it), the server's
    answer (its record, a deletion, or nothing usable) and the base record the local edit was
    made on. Nothing here reads a clock or a database: the same inputs always give the same
    output, so every outcome can be reproduced and tested on its own. The engine records the
    outcome on the transaction and acts on it.
*/

namespace Synq {
namespace ConflictResolution {

enum class Policy { ServerWins, ClientWins, LastWriteWins, FieldMerge, Custom, Manual };

// How FieldMerge settles one field that both sides changed since the base.
enum class FieldPolicy {
    ServerWins, // the server's value
    LocalWins, // the local value
    MergeArrays, // three-way union of two arrays (mergeArrays()); LocalWins when not both arrays
    Monotonic, // the larger value, whichever side changed it (a value that never goes back)
    ServerDerived, // always the server's value, even where only the local side changed it
};

struct FieldPolicies
{
    QHash<QString, FieldPolicy> fields;
    // For a field both sides changed and fields does not name: the local edit is kept, so a
    // field merge never drops what the user typed unless the collection says so.
    FieldPolicy fallback = FieldPolicy::LocalWins;

    FieldPolicy of(const QString &field) const { return fields.value(field, fallback); }
};

// The merged record: per field, the side that changed it since base; where both did, the
// field's policy decides. A field missing from a record is "absent", a value of its own
// (null is not absent). Fields absent from the result are left out.
SYNQ_EXPORT QJsonObject mergeFields(const QJsonObject &local, const QJsonObject &server,
                                    const QJsonObject &base, const FieldPolicies &policies);

// Three-way union of arrays: the server's elements in its order, less those the local side
// removed since base, then the local side's elements the result does not hold yet and the
// server did not remove since base, in local order. Elements compare by JSON value.
SYNQ_EXPORT QJsonArray mergeArrays(const QJsonArray &local, const QJsonArray &server,
                                   const QJsonArray &base);

// The larger of two values: numbers by value, strings by code point (ISO 8601 times in one
// time zone order this way), bool true over false; a present value over an absent one.
// Values of different or other types: b.
SYNQ_EXPORT QJsonValue larger(const QJsonValue &a, const QJsonValue &b);

// The outcomes (C3) are Synq::ConflictOutcome (records.h), recorded on transactions.
using Outcome = ConflictOutcome;

// What the server answered a conflicting mutation with.
struct ServerState
{
    enum State { Unknown, Live, Deleted };
    State state = Unknown; // Unknown: the answer carried no record and no deletion
    QJsonObject record; // when Live

    static ServerState live(const QJsonObject &record) { return ServerState { Live, record }; }
    static ServerState deleted() { return ServerState { Deleted, {} }; }
};

// A custom resolver: the merged record, or nullopt when it cannot decide (ManualRequired).
// local or base may be empty when there is none; server is empty for a deletion. Returning an
// empty record removes it (a local removal handed back is sent again).
using Resolver = std::function<std::optional<QJsonObject>(
        const QJsonObject &local, const QJsonObject &server, const QJsonObject &base)>;

struct Conflict
{
    Policy policy = Policy::ServerWins;
    bool conflictFree = false; // an append-only collection: never merged, the server's stands
    std::optional<QJsonObject> local; // nullopt: the local change removes the record
    ServerState server;
    std::optional<QJsonObject> base; // nullopt: the local change created the record
    FieldPolicies fieldPolicies; // FieldMerge
    Resolver resolver; // Custom
    // LastWriteWins: which write happened later, decided by the caller from the ordering it
    // uses (server versions or hybrid logical clocks), never from raw device clocks.
    bool localIsLater = false;
};

struct Resolution
{
    Outcome outcome = Outcome::Skipped;
    // RebaseAndRetry: the record to send on the server's version; nullopt sends a removal.
    // AdoptServer: the server's record, nullopt when the server deleted it.
    std::optional<QJsonObject> record;
};

SYNQ_EXPORT Resolution resolve(const Conflict &conflict);

/*
    The mutation that carries a RebaseAndRetry resolution to the server: mutation rewritten on
    the server's state at serverVersion, keeping its id (the server stored nothing for it: a
    conflicting transaction is rolled back). record is the resolution's record (nullopt:
    remove). Against a live server record it becomes an update of the fields whose values
    differ from the server's (original = the server's record) or a removal; against a deleted
    one, an insert of record (the item is created again). nullopt when nothing is left to send:
    record holds the server's values already, or removes what the server removed.
*/
SYNQ_EXPORT std::optional<MutationRecord> rebased(const MutationRecord &mutation,
                                                  const std::optional<QJsonObject> &record,
                                                  const ServerState &server,
                                                  qint64 serverVersion);

} // namespace ConflictResolution
} // namespace Synq

#endif // SYNQ_CONFLICTRESOLUTION_H
