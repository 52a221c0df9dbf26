// SPDX-License-Identifier: BSD-3-Clause
#include <synq/json.h>

#include <QtCore/QDate>
#include <QtCore/QDateTime>
#include <QtCore/QHash>
#include <QtCore/QMutex>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QTime>
#include <QtCore/QUrl>
#include <QtCore/QUuid>

#include <cmath>

namespace Synq {
namespace Json {

namespace {

struct Unwrappers
{
    QMutex mutex;
    QHash<int, VariantUnwrapper> byType;
};

Unwrappers &unwrappers()
{
    static Unwrappers instance;
    return instance;
}

QString join(const QString &path, const QString &field)
{
    return path.isEmpty() ? field : path + QLatin1Char('.') + field;
}

// JSON values handed over as such can still hold NaN or infinity (QJsonValue stores any double),
// which would be written as null: find them, at any depth.
bool isFaithful(const QJsonValue &value, const QString &path, QString *badPath)
{
    auto fail = [&] {
        if (badPath)
            *badPath = path.isEmpty() ? QStringLiteral("(value)") : path;
        return false;
    };

    switch (value.type()) {
    case QJsonValue::Undefined:
        return fail();
    case QJsonValue::Double:
        return std::isfinite(value.toDouble()) ? true : fail();
    case QJsonValue::Array: {
        const QJsonArray array = value.toArray();
        for (qsizetype i = 0; i < array.size(); ++i) {
            if (!isFaithful(array.at(i), path + QStringLiteral("[%1]").arg(i), badPath))
                return false;
        }
        return true;
    }
    case QJsonValue::Object: {
        const QJsonObject object = value.toObject();
        for (auto it = object.constBegin(); it != object.constEnd(); ++it) {
            if (!isFaithful(it.value(), join(path, it.key()), badPath))
                return false;
        }
        return true;
    }
    default:
        return true;
    }
}

bool convert(const QVariant &value, QJsonValue *out, const QString &path, QString *badPath)
{
    auto fail = [&] {
        if (badPath)
            *badPath = path.isEmpty() ? QStringLiteral("(value)") : path;
        return false;
    };

    switch (value.metaType().id()) {
    case QMetaType::UnknownType:
    case QMetaType::Nullptr:
        *out = QJsonValue(QJsonValue::Null);
        return true;
    case QMetaType::Bool:
        *out = value.toBool();
        return true;
    case QMetaType::Int:
    case QMetaType::Short:
    case QMetaType::Char:
    case QMetaType::SChar:
    case QMetaType::UChar:
    case QMetaType::UShort:
    case QMetaType::UInt:
    case QMetaType::Long:
    case QMetaType::LongLong:
        *out = QJsonValue(value.toLongLong());
        return true;
    case QMetaType::ULong:
    case QMetaType::ULongLong: {
        const qulonglong v = value.toULongLong();
        if (v > qulonglong(std::numeric_limits<qint64>::max()))
            return fail();
        *out = QJsonValue(qint64(v));
        return true;
    }
    case QMetaType::Float:
    case QMetaType::Double: {
        const double d = value.toDouble();
        if (!std::isfinite(d))
            return fail();
        *out = QJsonValue(d);
        return true;
    }
    case QMetaType::QString:
        *out = value.toString();
        return true;
    case QMetaType::QChar:
        *out = QString(value.toChar());
        return true;
    case QMetaType::QDateTime: {
        const QDateTime dt = value.toDateTime();
        if (!dt.isValid())
            return fail();
        *out = dt.toString(Qt::ISODateWithMs);
        return true;
    }
    case QMetaType::QDate: {
        const QDate date = value.toDate();
        if (!date.isValid())
            return fail();
        *out = date.toString(Qt::ISODate);
        return true;
    }
    case QMetaType::QTime: {
        const QTime time = value.toTime();
        if (!time.isValid())
            return fail();
        *out = time.toString(Qt::ISODateWithMs);
        return true;
    }
    case QMetaType::QUrl:
        *out = value.toUrl().toString();
        return true;
    case QMetaType::QUuid:
        *out = value.toUuid().toString(QUuid::WithoutBraces);
        return true;
    case QMetaType::QStringList: {
        QJsonArray array;
        for (const QString &s : value.toStringList())
            array.append(s);
        *out = array;
        return true;
    }
    case QMetaType::QVariantList: {
        const QVariantList list = value.toList();
        QJsonArray array;
        for (int i = 0; i < list.size(); ++i) {
            QJsonValue item;
            if (!convert(list.at(i), &item, path + QStringLiteral("[%1]").arg(i), badPath))
                return false;
            array.append(item);
        }
        *out = array;
        return true;
    }
    case QMetaType::QVariantMap: {
        const QVariantMap map = value.toMap();
        QJsonObject object;
        for (auto it = map.cbegin(); it != map.cend(); ++it) {
            QJsonValue item;
            if (!convert(it.value(), &item, join(path, it.key()), badPath))
                return false;
            object.insert(it.key(), item);
        }
        *out = object;
        return true;
    }
    case QMetaType::QVariantHash: {
        const QVariantHash hash = value.toHash();
        QJsonObject object;
        for (auto it = hash.cbegin(); it != hash.cend(); ++it) {
            QJsonValue item;
            if (!convert(it.value(), &item, join(path, it.key()), badPath))
                return false;
            object.insert(it.key(), item);
        }
        *out = object;
        return true;
    }
    case QMetaType::QJsonValue: {
        const QJsonValue v = value.toJsonValue();
        if (!isFaithful(v, path, badPath))
            return false;
        *out = v;
        return true;
    }
    case QMetaType::QJsonObject: {
        const QJsonValue v(value.toJsonObject());
        if (!isFaithful(v, path, badPath))
            return false;
        *out = v;
        return true;
    }
    case QMetaType::QJsonArray: {
        const QJsonValue v(value.toJsonArray());
        if (!isFaithful(v, path, badPath))
            return false;
        *out = v;
        return true;
    }
    case QMetaType::QJsonDocument: {
        const QJsonDocument doc = value.toJsonDocument();
        QJsonValue v;
        if (doc.isObject())
            v = doc.object();
        else if (doc.isArray())
            v = doc.array();
        else
            return fail();
        if (!isFaithful(v, path, badPath))
            return false;
        *out = v;
        return true;
    }
    default: {
        const QVariant plain = unwrapped(value);
        if (plain.metaType() == value.metaType())
            return fail();
        return convert(plain, out, path, badPath);
    }
    }
}

} // namespace

void registerVariantUnwrapper(QMetaType type, VariantUnwrapper unwrapper)
{
    Unwrappers &u = unwrappers();
    QMutexLocker lock(&u.mutex);
    u.byType.insert(type.id(), unwrapper);
}

QVariant unwrapped(const QVariant &value)
{
    VariantUnwrapper unwrapper = nullptr;
    {
        Unwrappers &u = unwrappers();
        QMutexLocker lock(&u.mutex);
        unwrapper = u.byType.value(value.metaType().id());
    }
    return unwrapper ? unwrapper(value) : value;
}

bool fromVariant(const QVariant &value, QJsonValue *out, QString *badPath)
{
    QJsonValue result;
    if (!convert(value, &result, QString(), badPath))
        return false;
    if (out)
        *out = result;
    return true;
}

bool fromVariantMap(const QVariantMap &map, QJsonObject *out, QString *badPath)
{
    QJsonValue result;
    if (!convert(QVariant(map), &result, QString(), badPath))
        return false;
    if (out)
        *out = result.toObject();
    return true;
}

QByteArray encode(const QJsonObject &object)
{
    // QJsonObject keeps its keys sorted, so the compact form is canonical.
    return QJsonDocument(object).toJson(QJsonDocument::Compact);
}

bool decodeObject(const QByteArray &bytes, QJsonObject *out)
{
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(bytes, &error);
    if (error.error != QJsonParseError::NoError || !doc.isObject())
        return false;
    if (out)
        *out = doc.object();
    return true;
}

} // namespace Json
} // namespace Synq
