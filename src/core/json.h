// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_JSON_H
#define SYNQ_JSON_H

#include <synq/synq_export.h>

#include <QtCore/QByteArray>
#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtCore/QString>
#include <QtCore/QVariant>

namespace Synq {
namespace Json {

/*
    Strict conversion of a QVariant (as handed over by C++ or QML) to JSON.

    Unlike QJsonValue::fromVariant(), nothing is silently turned into null: a value that has no
    faithful JSON form (a QObject pointer, a colour, NaN or infinity, a byte array, ...) makes the
    conversion fail, and *badPath names it ("tags[2]", "address.zip").
    Dates and times become ISO 8601 strings, URLs and UUIDs strings.
*/
SYNQ_EXPORT bool fromVariant(const QVariant &value, QJsonValue *out, QString *badPath = nullptr);

/*
    Values of types the core does not know (QML hands JavaScript values over as QJSValue) can
    be unwrapped into plain variants by a function registered for their type. The QML plugin
    registers one for QJSValue; the core library itself stays free of QtQml.
*/
using VariantUnwrapper = QVariant (*)(const QVariant &);
SYNQ_EXPORT void registerVariantUnwrapper(QMetaType type, VariantUnwrapper unwrapper);
// value itself, or its unwrapped form if an unwrapper is registered for its type.
SYNQ_EXPORT QVariant unwrapped(const QVariant &value);

// Same for a map; the result is an object.
SYNQ_EXPORT bool fromVariantMap(const QVariantMap &map, QJsonObject *out,
                                QString *badPath = nullptr);

// Compact, key-sorted encoding: equal objects encode to equal bytes.
SYNQ_EXPORT QByteArray encode(const QJsonObject &object);

// Decodes an object; returns false for anything that is not exactly one JSON object.
SYNQ_EXPORT bool decodeObject(const QByteArray &bytes, QJsonObject *out);

} // namespace Json
} // namespace Synq

#endif
