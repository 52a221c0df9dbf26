// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNCCOLLECTION_P_H
#define SYNQ_SYNCCOLLECTION_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/synccollection.h>

#include "../engine/syncengine_p.h"

#include <QtCore/QPointer>

#include <functional>

namespace Synq {

// Stored rows loaded per fetchMore().
static constexpr int FetchPage = 500;

class SyncCollectionPrivate
{
public:
    explicit SyncCollectionPrivate(SyncCollection *q) : q(q) { }

    void attach();
    void detach();
    SyncError refuse(const SyncError &error) const;
    Transaction *fail(const SyncError &error) const;
    Transaction *commit(const QList<LocalOp> &ops);
    template<typename Prepare>
    Transaction *commitMany(const QVariant &list, Prepare prepare);
    bool toKey(const QVariant &value, QString *out, SyncError *error) const;
    bool prepare(const std::function<bool(const LocalCommit &)> &build, SyncError *error) const;
    bool prepareInsert(const QVariant &item, LocalOp *op, SyncError *error) const;
    bool prepareUpdate(const QVariant &key, const QVariant &changes, LocalOp *op,
                       SyncError *error) const;
    bool prepareRemove(const QVariant &key, LocalOp *op, SyncError *error) const;
    // Tells the engine this collection's key field, strategy, conflict policy and hooks
    // (shared by its models).
    void publishConfig();
    // fieldPolicies as the engine takes them; entries that name no field policy are reported.
    ConflictResolution::FieldPolicies conflictFieldPolicies() const;
    QVariantMap rowMap(const StoreRow &row) const;
    QVariant meta(const StoreRow &row, int role) const;
    const QJsonObject &decoded(int row) const;
    QList<int> rolesFor(const QStringList &fields, quint32 meta) const;

    SyncCollection *q;
    QPointer<SyncEngine> engine;
    QPointer<CollectionStore> store;
    bool fetchScheduled = false;
    mutable int decodedRow = -1;
    mutable quint64 decodedGeneration = 0;
    mutable QJsonObject decodedObject;
    QList<QMetaObject::Connection> connections;
    QString name;
    QStringList fields;
    QString keyField = QStringLiteral("id");
    SyncCollection::Strategy strategy = SyncCollection::Ordered;
    SyncCollection::ConflictPolicy conflictPolicy = SyncCollection::ServerWins;
    QVariantMap fieldPolicies;
    bool conflictFree = false;
    SyncEngine::ConflictResolver resolver;
    SyncCollection::CachePolicy cachePolicy = SyncCollection::RemoteFirst;
    bool readOnly = false;
    bool awaitSync = false;
    SyncEngine::PersistHandler persist;
    bool persistSet = false;
    SyncEngine::MergeFunction merge;
    bool mergeSet = false;
};

} // namespace Synq

#endif
