// SPDX-License-Identifier: BSD-3-Clause
// Turning what an app passes (QVariant maps, JS objects, keys) into the ops of a local
// transaction: shared by SyncCollection's mutators and explicit transactions.

#include "syncengine_p.h"

#include <synq/json.h>
#include <synq/keygenerator.h>

#include <QtCore/QCoreApplication>

namespace Synq {

namespace {

// The messages keep the context they have always had in the translations.
QString tr(const char *text)
{
    return QCoreApplication::translate("Synq::SyncCollection", text);
}

bool toObject(const QVariant &given, QJsonObject *out, SyncError *error)
{
    const QVariant value = Json::unwrapped(given);
    const int type = value.metaType().id();
    if (type != QMetaType::QVariantMap && type != QMetaType::QVariantHash
        && type != QMetaType::QJsonObject) {
        *error = SyncError(SyncError::Validation,
                           tr("An item must be an object with fields; got %1.")
                                   .arg(QString::fromLatin1(value.metaType().name()
                                                                    ? value.metaType().name()
                                                                    : "nothing")));
        return false;
    }
    QJsonValue json;
    QString bad;
    if (!Json::fromVariant(value, &json, &bad)) {
        *error = SyncError(SyncError::Validation,
                           tr("The value of \"%1\" cannot be stored as JSON.").arg(bad));
        return false;
    }
    *out = json.toObject();
    return true;
}

} // namespace

bool SyncEnginePrivate::toKey(const QVariant &value, QString *out, SyncError *error)
{
    QJsonValue json;
    Json::fromVariant(value, &json);
    if (json.isString() && !json.toString().isEmpty()) {
        *out = json.toString();
    } else if (json.isDouble() && json.toDouble() == double(json.toInteger())) {
        *out = QString::number(json.toInteger());
    } else {
        *error = SyncError(SyncError::Validation,
                           tr("A key must be a non-empty string or an integer."));
        return false;
    }
    if (out->size() > 512) {
        *error = SyncError(SyncError::Validation, tr("A key may be at most 512 characters long."));
        return false;
    }
    return true;
}

bool SyncEnginePrivate::prepareInsert(const QString &collection, const QVariant &item,
                                      LocalOp *op, SyncError *error) const
{
    QJsonObject object;
    if (!toObject(item, &object, error))
        return false;
    const QString keyField = config(collection).keyField;
    const QJsonValue keyValue = object.value(keyField);
    if (keyValue.isUndefined() || keyValue.isNull()
        || (keyValue.isString() && keyValue.toString().isEmpty())) {
        op->key = KeyGenerator::global().next();
        object.insert(keyField, op->key);
    } else if (!toKey(keyValue.toVariant(), &op->key, error)) {
        return false;
    }
    op->collection = collection;
    op->type = MutationType::Insert;
    op->values = object;
    return true;
}

bool SyncEnginePrivate::prepareUpdate(const QString &collection, const QVariant &key,
                                      const QVariant &changes, LocalOp *op,
                                      SyncError *error) const
{
    if (!toKey(key, &op->key, error))
        return false;
    QJsonObject object;
    if (!toObject(changes, &object, error))
        return false;
    if (object.isEmpty()) {
        *error = SyncError(SyncError::Validation,
                           tr("An update needs at least one field to change."));
        return false;
    }
    const QString keyField = config(collection).keyField;
    if (object.contains(keyField)) {
        const std::optional<QJsonObject> current = visibleState(collection, op->key);
        if (!current || current->value(keyField) != object.value(keyField)) {
            *error = SyncError(SyncError::Validation,
                               tr("The key field \"%1\" cannot be changed.").arg(keyField));
            return false;
        }
    }
    op->collection = collection;
    op->type = MutationType::Update;
    op->values = object;
    return true;
}

bool SyncEnginePrivate::prepareRemove(const QString &collection, const QVariant &key,
                                      LocalOp *op, SyncError *error) const
{
    if (!toKey(key, &op->key, error))
        return false;
    op->collection = collection;
    op->type = MutationType::Remove;
    return true;
}

std::optional<QJsonObject> SyncEnginePrivate::visibleState(const QString &collection,
                                                           const QString &key) const
{
    CollectionStore *s = stores.value(collection);
    const StoreRow *row = s ? s->find(key) : nullptr;
    if (!row)
        return std::nullopt;
    return row->data();
}

} // namespace Synq
