// SPDX-License-Identifier: BSD-3-Clause
// JavaScript values reach the core's QVariant parameters as QJSValue. The core cannot know
// QJSValue (it has no QtQml), so the plugin teaches it to unwrap them into plain variants
// (objects -> QVariantMap, arrays -> QVariantList, dates -> QDateTime) when it loads.

#include <synq/json.h>

#include <QtQml/QJSValue>

namespace {

QVariant unwrapJSValue(const QVariant &value)
{
    const QJSValue js = value.value<QJSValue>();
    if (js.isCallable() || js.isUndefined())
        return value; // no JSON form: left as it is, the strict conversion refuses it
    return js.toVariant();
}

void registerSynqQmlConversions()
{
    Synq::Json::registerVariantUnwrapper(QMetaType::fromType<QJSValue>(), &unwrapJSValue);
}

} // namespace

Q_CONSTRUCTOR_FUNCTION(registerSynqQmlConversions)
