// SPDX-License-Identifier: BSD-3-Clause
#include "bindings_p.h"

#include <synq/json.h>

#include <QtSql/QSqlQuery>

namespace Synq::Storage {

// Qt 6.4's QSqlResult::bindValue() formats the placeholder's name and looks it up in a hash on
// every call: a fifth of a bulk write's SQL time when every column was bound for every row.
// Bound values stay between runs, so a value the statement still holds is not bound again.
// "The same" means the same type and value and, for text and bytes, the same nullness: a null
// QString binds NULL, "" binds ''. NULL is bound as a null QString, so that it can be recognised.
void bind(QSqlQuery &q, int index, const QVariant &value)
{
    static const QVariant null { QString() };
    const QVariant &v = value.isValid() ? value : null;
    const QVariant bound = q.boundValue(index);
    auto isNullText = [](const QVariant &x) {
        switch (x.metaType().id()) {
        case QMetaType::QString:
            return static_cast<const QString *>(x.constData())->isNull();
        case QMetaType::QByteArray:
            return static_cast<const QByteArray *>(x.constData())->isNull();
        default:
            return false;
        }
    };
    if (bound.metaType() == v.metaType() && bound == v && isNullText(bound) == isNullText(v))
        return;
    q.bindValue(index, v);
}

QVariant jsonOrNull(const QJsonObject &object, bool present)
{
    return present ? jsonText(Json::encode(object)) : QVariant();
}

QJsonObject decode(const QVariant &v)
{
    QJsonObject object;
    if (!v.isNull())
        Json::decodeObject(v.toString().toUtf8(), &object);
    return object;
}

void bindError(QSqlQuery &q, int first, const SyncError &error)
{
    bind(q, first, int(error.code()));
    bind(q, first + 1, error.message());
    bind(q, first + 2, error.detail());
    bind(q, first + 3, error.isRetryable() ? 1 : 0);
    bind(q, first + 4, error.httpStatus());
    bind(q, first + 5, error.transactionId());
}

SyncError readError(const QSqlQuery &q, int first)
{
    const auto code = SyncError::Code(q.value(first).toInt());
    if (code == SyncError::None)
        return SyncError();
    SyncError error(code, q.value(first + 1).toString(), q.value(first + 2).toString());
    error.setRetryable(q.value(first + 3).toBool());
    error.setHttpStatus(q.value(first + 4).toInt());
    error.setTransactionId(q.value(first + 5).toString());
    return error;
}

} // namespace Synq::Storage
