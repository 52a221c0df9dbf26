// SPDX-License-Identifier: BSD-3-Clause
#include "conflictresolution.h"

#include "pushrules.h"

#include <QtCore/QSet>

#include <algorithm>

namespace Synq {
namespace ConflictResolution {

namespace {

bool holds(const QJsonArray &array, const QJsonValue &value)
{
    return std::find(array.begin(), array.end(), value) != array.end();
}

// In base, not in side: removed by that side since base.
bool removedBy(const QJsonArray &side, const QJsonArray &base, const QJsonValue &value)
{
    return holds(base, value) && !holds(side, value);
}

QJsonValue mergeField(const QJsonValue &local, const QJsonValue &server, const QJsonValue &base,
                      FieldPolicy policy)
{
    if (policy == FieldPolicy::ServerDerived)
        return server;
    if (local == server)
        return local;
    if (policy == FieldPolicy::Monotonic)
        return larger(local, server);
    if (local == base)
        return server;
    if (server == base)
        return local;
    switch (policy) {
    case FieldPolicy::ServerWins:
        return server;
    case FieldPolicy::MergeArrays:
        if (local.isArray() && server.isArray())
            return mergeArrays(local.toArray(), server.toArray(), base.toArray());
        return local;
    case FieldPolicy::LocalWins:
    case FieldPolicy::Monotonic:
    case FieldPolicy::ServerDerived:
        break;
    }
    return local;
}

Resolution adoptServer(const ServerState &server)
{
    if (server.state == ServerState::Live)
        return { Outcome::AdoptServer, server.record };
    return { Outcome::AdoptServer, std::nullopt };
}

// RebaseAndRetry with record, or AdoptServer when record is what the server holds already.
Resolution sendOrAdopt(const std::optional<QJsonObject> &record, const ServerState &server)
{
    if (record && server.state == ServerState::Live && *record == server.record)
        return adoptServer(server);
    return { Outcome::RebaseAndRetry, record };
}

// The local change made again on the server's state (ClientWins, a later local write): the
// fields the local side changed since base take its values, the others stay the server's. A
// change that created the record, or that meets a deletion, brings its record whole.
std::optional<QJsonObject> localChangeOn(const Conflict &conflict)
{
    if (!conflict.local || !conflict.base || conflict.server.state != ServerState::Live)
        return conflict.local;
    return mergeFields(*conflict.local, conflict.server.record, *conflict.base, FieldPolicies());
}

} // namespace

QJsonValue larger(const QJsonValue &a, const QJsonValue &b)
{
    if (a.isUndefined())
        return b;
    if (b.isUndefined())
        return a;
    if (a.isDouble() && b.isDouble())
        return a.toDouble() > b.toDouble() ? a : b;
    if (a.isString() && b.isString())
        return a.toString() > b.toString() ? a : b;
    if (a.isBool() && b.isBool())
        return QJsonValue(a.toBool() || b.toBool());
    return b;
}

QJsonArray mergeArrays(const QJsonArray &local, const QJsonArray &server, const QJsonArray &base)
{
    QJsonArray merged;
    for (const QJsonValue &value : server) {
        if (!removedBy(local, base, value))
            merged.append(value);
    }
    for (const QJsonValue &value : local) {
        if (!holds(merged, value) && !removedBy(server, base, value))
            merged.append(value);
    }
    return merged;
}

QJsonObject mergeFields(const QJsonObject &local, const QJsonObject &server,
                        const QJsonObject &base, const FieldPolicies &policies)
{
    QSet<QString> fields;
    for (const QJsonObject *record : { &local, &server, &base }) {
        for (auto it = record->begin(); it != record->end(); ++it)
            fields.insert(it.key());
    }
    QJsonObject merged;
    for (const QString &field : std::as_const(fields)) {
        const QJsonValue value = mergeField(local.value(field), server.value(field),
                                            base.value(field), policies.of(field));
        if (!value.isUndefined())
            merged.insert(field, value);
    }
    return merged;
}

Resolution resolve(const Conflict &conflict)
{
    const ServerState &server = conflict.server;
    if (server.state == ServerState::Unknown)
        return { Outcome::Skipped, conflict.local };
    // Both sides removed it: nothing is left to decide.
    if (!conflict.local && server.state == ServerState::Deleted)
        return adoptServer(server);
    if (conflict.conflictFree)
        return adoptServer(server);

    switch (conflict.policy) {
    case Policy::ServerWins:
        return adoptServer(server);
    case Policy::Manual:
        return { Outcome::ManualRequired, std::nullopt };
    case Policy::LastWriteWins:
        if (!conflict.localIsLater)
            return adoptServer(server);
        return sendOrAdopt(localChangeOn(conflict), server);
    case Policy::ClientWins:
        return sendOrAdopt(localChangeOn(conflict), server);
    case Policy::FieldMerge:
        // A deletion on either side has no fields to merge: the server's delete is final,
        // and a local removal yields to the server's newer edit (nothing is lost).
        if (!conflict.local || server.state == ServerState::Deleted)
            return adoptServer(server);
        return sendOrAdopt(mergeFields(*conflict.local, server.record,
                                       conflict.base.value_or(QJsonObject()),
                                       conflict.fieldPolicies),
                           server);
    case Policy::Custom: {
        if (!conflict.resolver)
            return { Outcome::ManualRequired, std::nullopt };
        const std::optional<QJsonObject> merged =
                conflict.resolver(conflict.local.value_or(QJsonObject()), server.record,
                                  conflict.base.value_or(QJsonObject()));
        if (!merged)
            return { Outcome::ManualRequired, std::nullopt };
        // An empty record is the local removal handed back: the removal is sent again.
        if (merged->isEmpty())
            return sendOrAdopt(std::nullopt, server);
        return sendOrAdopt(merged, server);
    }
    }
    return { Outcome::Skipped, conflict.local };
}

std::optional<MutationRecord> rebased(const MutationRecord &mutation,
                                      const std::optional<QJsonObject> &record,
                                      const ServerState &server, qint64 serverVersion)
{
    if (server.state == ServerState::Unknown)
        return std::nullopt;
    MutationRecord m = mutation;
    m.baseVersion = serverVersion;
    if (server.state == ServerState::Deleted) {
        if (!record)
            return std::nullopt; // removed on both sides
        // Created again: an insert is applied over a tombstone.
        m.type = MutationType::Insert;
        m.original = QJsonObject();
        m.modified = *record;
        m.changes = *record;
        return m;
    }
    m.original = server.record;
    if (!record) {
        m.type = MutationType::Remove;
        m.modified = QJsonObject();
        m.changes = QJsonObject();
        return m;
    }
    // Only what differs: a field the server has and the record lacks cannot be removed by an
    // update (changes set fields), so it stays as the server has it.
    QJsonObject changes;
    for (auto it = record->constBegin(); it != record->constEnd(); ++it) {
        const auto there = server.record.constFind(it.key());
        if (there == server.record.constEnd() || *there != it.value())
            changes.insert(it.key(), it.value());
    }
    if (changes.isEmpty())
        return std::nullopt;
    m.type = MutationType::Update;
    m.changes = changes;
    m.modified = PushRules::applyChanges(server.record, changes);
    return m;
}

} // namespace ConflictResolution
} // namespace Synq
