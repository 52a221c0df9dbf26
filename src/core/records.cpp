// SPDX-License-Identifier: BSD-3-Clause
#include <synq/records.h>

#include <QtCore/QSet>

#include <synq/json.h>

namespace Synq {

QString nameOf(TransactionState state)
{
    switch (state) {
    case TransactionState::Queued: return QStringLiteral("Queued");
    case TransactionState::Pending: return QStringLiteral("Pending");
    case TransactionState::Persisting: return QStringLiteral("Persisting");
    case TransactionState::PersistedAwaitingSync: return QStringLiteral("PersistedAwaitingSync");
    case TransactionState::Completed: return QStringLiteral("Completed");
    case TransactionState::Failed: return QStringLiteral("Failed");
    }
    return QString();
}

QString nameOf(MutationType type)
{
    switch (type) {
    case MutationType::Insert: return QStringLiteral("insert");
    case MutationType::Update: return QStringLiteral("update");
    case MutationType::Remove: return QStringLiteral("remove");
    }
    return QString();
}

QString nameOf(MutationState state)
{
    switch (state) {
    case MutationState::Created: return QStringLiteral("created");
    case MutationState::Persisting: return QStringLiteral("persisting");
    case MutationState::Synced: return QStringLiteral("synced");
    }
    return QString();
}

QString nameOf(ConflictOutcome outcome)
{
    switch (outcome) {
    case ConflictOutcome::None: return QString();
    case ConflictOutcome::AdoptServer: return QStringLiteral("AdoptServer");
    case ConflictOutcome::RebaseAndRetry: return QStringLiteral("RebaseAndRetry");
    case ConflictOutcome::ManualRequired: return QStringLiteral("ManualRequired");
    case ConflictOutcome::Skipped: return QStringLiteral("Skipped");
    }
    return QString();
}

bool isActive(TransactionState state)
{
    return state != TransactionState::Completed && state != TransactionState::Failed;
}

QVariantMap MutationRecord::toVariantMap() const
{
    return {
        { QStringLiteral("mutationId"), id },
        { QStringLiteral("collection"), collection },
        { QStringLiteral("type"), nameOf(type) },
        { QStringLiteral("key"), key },
        { QStringLiteral("baseVersion"), baseVersion },
        { QStringLiteral("original"), original.toVariantMap() },
        { QStringLiteral("modified"), modified.toVariantMap() },
        { QStringLiteral("changes"), changes.toVariantMap() },
        { QStringLiteral("metadata"), metadata.toVariant() },
        { QStringLiteral("state"), nameOf(state) },
        { QStringLiteral("createdAt"), createdAt },
        { QStringLiteral("updatedAt"), updatedAt },
    };
}

QVariantMap AttemptRecord::toVariantMap() const
{
    return {
        { QStringLiteral("id"), id },
        { QStringLiteral("startedAt"), startedAt },
        { QStringLiteral("completedAt"), completedAt },
        { QStringLiteral("error"), QVariant::fromValue(error) },
        { QStringLiteral("retryScheduledFor"), retryScheduledFor },
    };
}

bool awaitsResolution(const TransactionRecord &t)
{
    return t.state == TransactionState::Pending
            && t.conflictOutcome == ConflictOutcome::ManualRequired;
}

QVariantMap ConflictRecord::toVariantMap() const
{
    auto map = [](const std::optional<QJsonObject> &record) {
        return record ? QVariant(record->toVariantMap()) : QVariant::fromValue(nullptr);
    };
    return {
        { QStringLiteral("conflictId"), id },
        { QStringLiteral("transactionId"), transactionId },
        { QStringLiteral("collection"), collection },
        { QStringLiteral("key"), key },
        { QStringLiteral("local"), map(local) },
        { QStringLiteral("server"), map(server) },
        { QStringLiteral("base"), map(base) },
        { QStringLiteral("serverVersion"), serverVersion },
        { QStringLiteral("detectedAt"), detectedAt },
    };
}

QStringList TransactionRecord::collections() const
{
    QStringList out;
    for (const MutationRecord &m : mutations) {
        if (!out.contains(m.collection))
            out.append(m.collection);
    }
    return out;
}

QStringList TransactionRecord::keys() const
{
    QStringList out;
    QSet<QString> seen; // bulk transactions hold many keys: no quadratic contains()
    for (const MutationRecord &m : mutations) {
        if (!seen.contains(m.key)) {
            seen.insert(m.key);
            out.append(m.key);
        }
    }
    return out;
}

QString scopeId(const QVariantMap &scope)
{
    if (scope.isEmpty())
        return QString();
    QJsonObject object;
    if (!Json::fromVariantMap(scope, &object))
        return QString::fromUtf8(Json::encode(QJsonObject::fromVariantMap(scope)));
    return QString::fromUtf8(Json::encode(object));
}

} // namespace Synq
