// SPDX-License-Identifier: BSD-3-Clause
// SyncCollection's API for code: the mutators (what the app passes becomes the ops of one
// local transaction) and the reads by row and by key.
#include "synccollection_p.h"

#include <synq/json.h>

namespace Synq {

bool SyncCollectionPrivate::toKey(const QVariant &value, QString *out, SyncError *error) const
{
    return LocalCommit::toKey(value, out, error);
}

bool SyncCollectionPrivate::prepare(const std::function<bool(const LocalCommit &)> &build,
                                    SyncError *error) const
{
    if (!engine) {
        *error = SyncError(SyncError::Validation, SyncCollection::tr("The collection has no engine."));
        return false;
    }
    return build(SyncEnginePrivate::get(engine)->local);
}

bool SyncCollectionPrivate::prepareInsert(const QVariant &item, LocalOp *op,
                                          SyncError *error) const
{
    return prepare([&](const LocalCommit &l) { return l.prepareInsert(name, item, op, error); },
                   error);
}

bool SyncCollectionPrivate::prepareUpdate(const QVariant &key, const QVariant &changes,
                                          LocalOp *op, SyncError *error) const
{
    return prepare(
            [&](const LocalCommit &l) { return l.prepareUpdate(name, key, changes, op, error); },
            error);
}

bool SyncCollectionPrivate::prepareRemove(const QVariant &key, LocalOp *op, SyncError *error) const
{
    return prepare([&](const LocalCommit &l) { return l.prepareRemove(name, key, op, error); },
                   error);
}

void SyncCollectionPrivate::publishConfig()
{
    if (!engine || name.isEmpty())
        return;
    SyncEngine *e = engine;
    CollectionConfig &c = SyncEnginePrivate::get(e)->configs[name];
    c.keyField = keyField;
    c.strategy = StrategyKind(strategy);
    c.awaitSync = awaitSync;
    c.conflictPolicy = ConflictResolution::Policy(int(conflictPolicy));
    c.fieldPolicies = conflictFieldPolicies();
    c.conflictFree = conflictFree;
    c.resolver = resolver;
    if (persistSet)
        e->setPersistHandler(name, persist);
    if (mergeSet)
        e->setMergeFunction(name, merge);
}

Transaction *SyncCollectionPrivate::commit(const QList<LocalOp> &ops)
{
    if (!engine)
        return fail(SyncError(SyncError::Validation,
                              SyncCollection::tr("The collection has no engine.")));
    if (!store)
        return fail(SyncError(SyncError::Validation,
                              SyncCollection::tr("The collection has no valid name.")));
    if (readOnly)
        return fail(SyncError(SyncError::Validation,
                              SyncCollection::tr("The collection \"%1\" is read-only.")
                                      .arg(name)));
    SyncError error;
    Transaction *t = SyncEnginePrivate::get(engine)->local.commit(ops, StrategyKind(strategy),
                                                                  &error);
    if (!t) {
        // The engine reported it already; the collection reports it to its own listeners.
        refuse(error);
    }
    return t;
}

template<typename Prepare>
Transaction *SyncCollectionPrivate::commitMany(const QVariant &given, Prepare prepare)
{
    const QVariant list = Json::unwrapped(given);
    const int type = list.metaType().id();
    if (type != QMetaType::QVariantList && type != QMetaType::QStringList
        && type != QMetaType::QJsonArray)
        return fail(SyncError(SyncError::Validation, SyncCollection::tr("Expected a list.")));
    const QVariantList entries = list.toList();
    QList<LocalOp> ops;
    ops.reserve(entries.size());
    for (qsizetype i = 0; i < entries.size(); ++i) {
        LocalOp op;
        SyncError error;
        if (!prepare(entries.at(i), &op, &error)) {
            return fail(SyncError(error.code(),
                                  SyncCollection::tr("Entry %1: %2").arg(i).arg(error.message())));
        }
        ops.append(std::move(op));
    }
    return commit(ops);
}

/*!
    Inserts \a item, an object (QVariantMap / JS object) of fields. Without a value for
    keyField the item gets a new client key (a time-ordered UUIDv7), written into its keyField.
*/
Transaction *SyncCollection::insert(const QVariant &item)
{
    LocalOp op;
    SyncError error;
    if (!d->prepareInsert(item, &op, &error))
        return d->fail(error);
    return d->commit({ op });
}

/*!
    Sets the fields in \a changes on the item with \a key. Fields not named keep their values;
    a null value sets a field to null.
*/
Transaction *SyncCollection::update(const QVariant &key, const QVariant &changes)
{
    LocalOp op;
    SyncError error;
    if (!d->prepareUpdate(key, changes, &op, &error))
        return d->fail(error);
    return d->commit({ op });
}

/*!
    Removes the item with \a key. The row disappears at once; the removal is pushed as a delete.
*/
Transaction *SyncCollection::remove(const QVariant &key)
{
    LocalOp op;
    SyncError error;
    if (!d->prepareRemove(key, &op, &error))
        return d->fail(error);
    return d->commit({ op });
}

/*!
    Inserts every object of \a items in one transaction: all of them are stored, or none.
*/
Transaction *SyncCollection::insertMany(const QVariant &items)
{
    return d->commitMany(items, [this](const QVariant &item, LocalOp *op, SyncError *error) {
        return d->prepareInsert(item, op, error);
    });
}

/*!
    Applies every \c{{key, changes}} object of \a updates in one transaction.
*/
Transaction *SyncCollection::updateMany(const QVariant &updates)
{
    return d->commitMany(updates, [this](const QVariant &entry, LocalOp *op, SyncError *error) {
        const QVariant plain = Json::unwrapped(entry);
        const QVariantMap map = plain.toMap();
        if (plain.metaType().id() != QMetaType::QVariantMap || !map.contains(QStringLiteral("key"))) {
            *error = SyncError(SyncError::Validation,
                               tr("Each update must be an object {key, changes}."));
            return false;
        }
        return d->prepareUpdate(map.value(QStringLiteral("key")),
                                map.value(QStringLiteral("changes")), op, error);
    });
}

/*!
    Removes every key of \a keys in one transaction.
*/
Transaction *SyncCollection::removeMany(const QVariant &keys)
{
    return d->commitMany(keys, [this](const QVariant &key, LocalOp *op, SyncError *error) {
        return d->prepareRemove(key, op, error);
    });
}

QVariantMap SyncCollectionPrivate::rowMap(const StoreRow &row) const
{
    QVariantMap map = row.data().toVariantMap();
    const QStringList names = SyncCollection::metaRoleNames();
    for (int i = 0; i < names.size(); ++i)
        map.insert(names.at(i), meta(row, SyncCollection::KeyRole + i));
    return map;
}

/*!
    Returns the row at \a row as a map: all the item's fields (declared or not) and the meta
    roles. An empty map for a row out of range.
*/
QVariantMap SyncCollection::get(int row) const
{
    if (!d->store || row < 0 || row >= d->store->count())
        return {};
    return d->rowMap(d->store->row(row));
}

QVariantMap SyncCollection::getByKey(const QVariant &key) const
{
    const int row = indexOfKey(key);
    return row < 0 ? QVariantMap() : get(row);
}

int SyncCollection::indexOfKey(const QVariant &key) const
{
    if (!d->store)
        return -1;
    SyncError ignored;
    QString k;
    if (!d->toKey(key, &k, &ignored))
        return -1;
    return d->store->locate(k);
}

} // namespace Synq
