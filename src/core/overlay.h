// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_OVERLAY_H
#define SYNQ_OVERLAY_H

#include <synq/records.h>
#include <synq/synq_export.h>

#include <QtCore/QJsonObject>
#include <QtCore/QStringList>

#include <optional>

namespace Synq {
namespace Overlay {

/*
    The optimistic overlay as pure functions: what a row looks like given its synced state and
    the pending mutations on top of it. std::nullopt means "not visible" (never existed, or
    removed).
*/

// Applies one mutation to a visible state (an update's changes as the server applies them,
// PushRules::applyChanges()).
SYNQ_EXPORT std::optional<QJsonObject> apply(const std::optional<QJsonObject> &visible,
                                             const MutationRecord &mutation);

// Folds the pending mutations (in order) over the synced state.
SYNQ_EXPORT std::optional<QJsonObject> visibleState(const std::optional<QJsonObject> &synced,
                                                    const QList<MutationRecord> &pending);

// Names of the fields whose values differ between two objects (added, removed or changed),
// sorted.
SYNQ_EXPORT QStringList changedFields(const QJsonObject &before, const QJsonObject &after);

} // namespace Overlay
} // namespace Synq

#endif
