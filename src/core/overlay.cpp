// SPDX-License-Identifier: BSD-3-Clause
#include <synq/overlay.h>

#include <synq/pushrules.h>

namespace Synq {
namespace Overlay {

std::optional<QJsonObject> apply(const std::optional<QJsonObject> &visible,
                                 const MutationRecord &mutation)
{
    switch (mutation.type) {
    case MutationType::Insert:
        return mutation.modified;
    case MutationType::Update:
        // An update of a row that is gone (removed on the server meanwhile) stays gone.
        if (!visible)
            return std::nullopt;
        return PushRules::applyChanges(*visible, mutation.changes);
    case MutationType::Remove:
        return std::nullopt;
    }
    return visible;
}

std::optional<QJsonObject> visibleState(const std::optional<QJsonObject> &synced,
                                        const QList<MutationRecord> &pending)
{
    std::optional<QJsonObject> state = synced;
    for (const MutationRecord &m : pending)
        state = Overlay::apply(state, m);
    return state;
}

QStringList changedFields(const QJsonObject &before, const QJsonObject &after)
{
    QStringList out;
    // Both objects iterate in key order: merge them.
    auto a = before.constBegin();
    auto b = after.constBegin();
    while (a != before.constEnd() || b != after.constEnd()) {
        if (b == after.constEnd() || (a != before.constEnd() && a.key() < b.key())) {
            out.append(a.key());
            ++a;
        } else if (a == before.constEnd() || b.key() < a.key()) {
            out.append(b.key());
            ++b;
        } else {
            if (a.value() != b.value())
                out.append(a.key());
            ++a;
            ++b;
        }
    }
    return out;
}

} // namespace Overlay
} // namespace Synq
