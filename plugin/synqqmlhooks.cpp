// SPDX-License-Identifier: BSD-3-Clause
#include "synqqmlhooks.h"

#include <synq/json.h>
#include <synq/overlay.h>
#include <synq/synccollection.h>

#include <QtQml/QJSEngine>
#include <QtQml/qqmlinfo.h>

SynqSyncCollectionHooks::SynqSyncCollectionHooks(QObject *parent) : QObject(parent) { }

/*
    One way every JavaScript hook is set: a function installs the C++ hook (given the hooks
    object), anything else but null/undefined is refused with a warning, and null/undefined
    removes it (install is then called with a null self).
*/
template<typename Install>
void SynqSyncCollectionHooks::replaceHook(QJSValue &slot, const QJSValue &value, const char *usage,
                                          void (SynqSyncCollectionHooks::*changed)(),
                                          Install install)
{
    if (value.strictlyEquals(slot))
        return;
    auto *collection = qobject_cast<Synq::SyncCollection *>(parent());
    if (!collection)
        return;
    if (!value.isCallable() && !value.isUndefined() && !value.isNull()) {
        qmlWarning(this) << usage;
        return;
    }
    slot = value;
    install(collection, value.isCallable() ? QPointer<SynqSyncCollectionHooks>(this)
                                           : QPointer<SynqSyncCollectionHooks>());
    Q_EMIT(this->*changed)();
}

/*!
    \qmlproperty function SyncCollection::persist
    A function \c{(transaction) => Promise} that writes the collection's transactions to any
    API instead of the engine's transport (T7). Resolving the promise means persisted.
    Rejecting with an object whose \c retryable is \c false is a non-retriable failure (the
    transaction fails at once); any other rejection, or an exception, is retried by the
    engine's retryPolicy. A rejection object may also carry \c message, \c code (a SyncError
    code name such as \c "validation", or its number) and \c retryAfterMs. A function that
    returns something other than a promise has persisted when it returns.

    \qml
    SyncCollection {
        persist: (transaction) => api.save(transaction.mutations)
    }
    \endqml
*/
void SynqSyncCollectionHooks::setPersist(const QJSValue &persist)
{
    replaceHook(m_persist, persist, "persist must be a function (transaction) => Promise",
                &SynqSyncCollectionHooks::persistChanged,
                [](Synq::SyncCollection *collection, QPointer<SynqSyncCollectionHooks> self) {
                    if (!self) {
                        collection->setPersistHandler({});
                        return;
                    }
                    collection->setPersistHandler(
                            [self](Synq::Transaction *transaction,
                                   const Synq::SyncEngine::PersistCallback &done) {
                                if (!self) {
                                    done(Synq::SyncError(Synq::SyncError::Cancelled,
                                                         QStringLiteral("The persist function "
                                                                        "is gone."))
                                                 .setRetryable(true));
                                    return;
                                }
                                self->call(transaction, done);
                            });
                });
}

/*!
    \qmlproperty function SyncCollection::merge
    A function \c{(synced, pending) => object} that puts pending changes back on top of a newly
    synced state (T4): \c synced is the item's synced object (or \c null), \c pending the list
    of its pending mutations, oldest first (each with \c type, \c changes, \c modified …).
    Return the object to show, \c null to hide the row, or \c undefined for the default (each
    pending change applied in order).

    \qml
    SyncCollection {
        strategy: SyncCollection.Parallel
        merge: (synced, pending) => {
            const row = Object.assign({}, synced)
            for (const m of pending)
                row.likes = (row.likes || 0) + (m.changes.likesDelta || 0)
            return row
        }
    }
    \endqml
*/
void SynqSyncCollectionHooks::setMerge(const QJSValue &merge)
{
    replaceHook(m_merge, merge, "merge must be a function (synced, pending) => object",
                &SynqSyncCollectionHooks::mergeChanged,
                [](Synq::SyncCollection *collection, QPointer<SynqSyncCollectionHooks> self) {
                    if (!self) {
                        collection->setMergeFunction({});
                        return;
                    }
                    collection->setMergeFunction(
                            [self](const std::optional<QJsonObject> &synced,
                                   const QList<Synq::MutationRecord> &pending)
                                    -> std::optional<QJsonObject> {
                                if (!self)
                                    return Synq::Overlay::visibleState(synced, pending);
                                return self->callMerge(synced, pending);
                            });
                });
}

std::optional<QJsonObject> SynqSyncCollectionHooks::callMerge(
        const std::optional<QJsonObject> &synced, const QList<Synq::MutationRecord> &pending)
{
    QJSEngine *engine = qjsEngine(parent());
    if (!engine)
        return Synq::Overlay::visibleState(synced, pending);
    QVariantList list;
    for (const Synq::MutationRecord &m : pending)
        list.append(m.toVariantMap());
    const QJSValue result = m_merge.call(
            { synced ? engine->toScriptValue(synced->toVariantMap()) : QJSValue(QJSValue::NullValue),
              engine->toScriptValue(list) });
    if (result.isNull())
        return std::nullopt;
    if (result.isUndefined())
        return Synq::Overlay::visibleState(synced, pending);
    if (!result.isError()) {
        QJsonValue json;
        QString bad;
        if (result.isObject() && Synq::Json::fromVariant(result.toVariant(), &json, &bad)
            && json.isObject())
            return json.toObject();
    }
    qmlWarning(this) << "merge did not return an object, null or undefined"
                     << (result.isError() ? result.toString() : QString())
                     << "- the default merge is used";
    return Synq::Overlay::visibleState(synced, pending);
}

/*!
    \qmlproperty function SyncCollection::resolveConflict
    A function \c{(local, server, base) => object} that resolves the collection's conflicts
    on push when \c conflictPolicy is \c SyncCollection.Custom (C2). \c local is the record
    with the local change (\c null when the change removes it), \c server the server's
    record (\c null when the server deleted it), \c base the record the local change was made
    on (\c null for an insert). Return the record to send on the server's version (the
    server's own record lets it stand), \c null to remove the item, or \c undefined when it
    cannot decide: the conflict then waits for the app in ConflictModel. It must be pure: the
    same records, the same answer.

    \qml
    SyncCollection {
        conflictPolicy: SyncCollection.Custom
        resolveConflict: (local, server, base) =>
            Object.assign({}, server, { body: server.body + "\n" + local.body })
    }
    \endqml
*/
void SynqSyncCollectionHooks::setResolveConflict(const QJSValue &resolve)
{
    replaceHook(m_resolveConflict, resolve,
                "resolveConflict must be a function (local, server, base) => object",
                &SynqSyncCollectionHooks::resolveConflictChanged,
                [](Synq::SyncCollection *collection, QPointer<SynqSyncCollectionHooks> self) {
                    if (!self) {
                        collection->setConflictResolver({});
                        return;
                    }
                    collection->setConflictResolver(
                            [self](const QJsonObject &local, const QJsonObject &server,
                                   const QJsonObject &base) -> std::optional<QJsonObject> {
                                if (!self)
                                    return std::nullopt; // the app decides
                                return self->callResolveConflict(local, server, base);
                            });
                });
}

std::optional<QJsonObject> SynqSyncCollectionHooks::callResolveConflict(
        const QJsonObject &local, const QJsonObject &server, const QJsonObject &base)
{
    QJSEngine *engine = qjsEngine(parent());
    if (!engine)
        return std::nullopt;
    auto value = [engine](const QJsonObject &record) {
        return record.isEmpty() ? QJSValue(QJSValue::NullValue)
                                : engine->toScriptValue(record.toVariantMap());
    };
    const QJSValue result = m_resolveConflict.call({ value(local), value(server), value(base) });
    if (result.isNull())
        return QJsonObject(); // an empty record: the item is removed
    if (result.isUndefined())
        return std::nullopt;
    if (!result.isError()) {
        QJsonValue json;
        QString bad;
        if (result.isObject() && Synq::Json::fromVariant(result.toVariant(), &json, &bad)
            && json.isObject() && !json.toObject().isEmpty())
            return json.toObject();
    }
    qmlWarning(this) << "resolveConflict did not return an object, null or undefined"
                     << (result.isError() ? result.toString() : QString())
                     << "- the conflict waits for the app (ConflictModel)";
    return std::nullopt;
}

void SynqSyncCollectionHooks::call(Synq::Transaction *transaction,
                                   const Synq::SyncEngine::PersistCallback &done)
{
    QJSEngine *engine = qjsEngine(parent());
    if (!engine) {
        done(Synq::SyncError(Synq::SyncError::Cancelled,
                             QStringLiteral("The QML engine is gone."))
                     .setRetryable(true));
        return;
    }
    QJSEngine::setObjectOwnership(transaction, QJSEngine::CppOwnership); // the engine owns it
    auto *reply = new SynqPersistReply(done, this);
    const QJSValue result = m_persist.call({ engine->newQObject(transaction) });
    if (result.isError()) {
        reply->reject(result);
        return;
    }
    const QJSValue then = result.property(QStringLiteral("then"));
    if (!then.isCallable()) {
        reply->resolve(result);
        return;
    }
    QJSEngine::setObjectOwnership(reply, QJSEngine::CppOwnership);
    const QJSValue handle = engine->newQObject(reply);
    then.callWithInstance(result, { handle.property(QStringLiteral("resolve")),
                                    handle.property(QStringLiteral("reject")) });
}

void SynqPersistReply::resolve(const QJSValue &)
{
    if (!m_done)
        return;
    const auto done = std::exchange(m_done, {});
    done(Synq::SyncError());
    deleteLater();
}

void SynqPersistReply::reject(const QJSValue &reason)
{
    if (!m_done)
        return;
    const auto done = std::exchange(m_done, {});
    done(errorFrom(reason));
    deleteLater();
}

Synq::SyncError SynqPersistReply::errorFrom(const QJSValue &reason)
{
    using Synq::SyncError;
    bool retryable = true;
    QString message;
    SyncError::Code code = SyncError::Network;
    int retryAfter = 0;
    if (reason.isObject()) {
        const QJSValue r = reason.property(QStringLiteral("retryable"));
        if (r.isBool())
            retryable = r.toBool();
        message = reason.property(QStringLiteral("message")).toString();
        if (reason.property(QStringLiteral("message")).isUndefined())
            message.clear();
        const QJSValue c = reason.property(QStringLiteral("code"));
        bool known = false;
        SyncError::Code given = SyncError::None;
        if (c.isString()) {
            const QString name = c.toString(); // "forbidden" or "Forbidden"
            given = SyncError::codeFromName(name.left(1).toUpper() + name.mid(1), &known);
        }
        else if (c.isNumber() && c.toInt() > SyncError::None && c.toInt() <= SyncError::Cancelled)
            given = SyncError::Code(c.toInt()), known = true;
        if (known && given != SyncError::None)
            code = given;
        else if (!retryable)
            code = SyncError::Validation;
        const QJSValue after = reason.property(QStringLiteral("retryAfterMs"));
        if (after.isNumber())
            retryAfter = qMax(0, after.toInt());
    } else if (!reason.isUndefined()) {
        message = reason.toString();
    }
    if (message.isEmpty())
        message = QStringLiteral("The persist function rejected the transaction.");
    SyncError error(code, message);
    error.setRetryable(retryable);
    if (retryAfter > 0)
        error.setRetryAfterMs(retryAfter);
    return error;
}
