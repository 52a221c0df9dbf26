// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_BINDINGS_P_H
#define SYNQ_BINDINGS_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/syncerror.h>

#include <QtCore/QByteArray>
#include <QtCore/QDateTime>
#include <QtCore/QJsonObject>
#include <QtCore/QString>
#include <QtCore/QVariant>

QT_BEGIN_NAMESPACE
class QSqlQuery;
QT_END_NAMESPACE

/*
    Bindings: how values go into the storage layer's prepared statements and come back out —
    the same for every table. Times are milliseconds since the epoch (0: none); JSON is bound as
    UTF-8 bytes for CAST(? AS TEXT); text columns that are NOT NULL take "" for a null string;
    the six error columns of a transaction are bound and read as one group.
*/
namespace Synq::Storage {

inline qint64 toMs(const QDateTime &dt)
{
    return dt.isValid() ? dt.toMSecsSinceEpoch() : 0;
}

inline QDateTime fromMs(const QVariant &v)
{
    const qint64 ms = v.toLongLong();
    return ms > 0 ? QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC) : QDateTime();
}

// Binds value to a prepared statement's placeholder, unless the statement still holds that
// very value from its previous run.
void bind(QSqlQuery &q, int index, const QVariant &value);

// JSON text is bound as its UTF-8 bytes and stored through CAST(? AS TEXT): SQLite takes the
// bytes as they are (the file's encoding is UTF-8), where a QString would be converted to
// UTF-16 by Qt and back to UTF-8 by SQLite, for every row.
inline QVariant jsonText(const QByteArray &utf8)
{
    return QVariant(utf8);
}

// The object's JSON text if present, else NULL.
QVariant jsonOrNull(const QJsonObject &object, bool present);

// The object a JSON text column holds (empty for NULL).
QJsonObject decode(const QVariant &v);

// SQLite's NOT NULL columns take "" but not a null QString: the empty scope is "".
inline QString text(const QString &s)
{
    return s.isNull() ? QStringLiteral("") : s;
}

// The six error columns of a transaction (code, message, detail, retryable, HTTP status,
// causing transaction), bound from position first; readError() reads them back.
void bindError(QSqlQuery &q, int first, const SyncError &error);
SyncError readError(const QSqlQuery &q, int first);

} // namespace Synq::Storage

#endif
