// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SYNQQMLHOOKS_H
#define SYNQ_SYNQQMLHOOKS_H

// QML-only hooks: JavaScript functions a QML app sets on the core types. Each one turns into
// the core's C++ hook; the logic stays in the core.

#include <synq/syncengine.h>

#include <QtCore/QObject>
#include <QtCore/QPointer>
#include <QtQml/QJSValue>
#include <QtQml/qqml.h>

// Extends SyncCollection in QML with `persist`: a function (transaction) => Promise.
class SynqSyncCollectionHooks : public QObject
{
    Q_OBJECT
    QML_ANONYMOUS
    Q_PROPERTY(QJSValue persist READ persist WRITE setPersist NOTIFY persistChanged FINAL)
    Q_PROPERTY(QJSValue merge READ merge WRITE setMerge NOTIFY mergeChanged FINAL)
    Q_PROPERTY(QJSValue resolveConflict READ resolveConflict WRITE setResolveConflict NOTIFY
                       resolveConflictChanged FINAL)

public:
    explicit SynqSyncCollectionHooks(QObject *parent);

    QJSValue persist() const { return m_persist; }
    void setPersist(const QJSValue &persist);
    QJSValue merge() const { return m_merge; }
    void setMerge(const QJSValue &merge);
    QJSValue resolveConflict() const { return m_resolveConflict; }
    void setResolveConflict(const QJSValue &resolve);

Q_SIGNALS:
    void persistChanged();
    void mergeChanged();
    void resolveConflictChanged();

private:
    template<typename Install>
    void replaceHook(QJSValue &slot, const QJSValue &value, const char *usage,
                     void (SynqSyncCollectionHooks::*changed)(), Install install);
    void call(Synq::Transaction *transaction, const Synq::SyncEngine::PersistCallback &done);

    std::optional<QJsonObject> callMerge(const std::optional<QJsonObject> &synced,
                                         const QList<Synq::MutationRecord> &pending);

    QJSValue m_persist;
    std::optional<QJsonObject> callResolveConflict(const QJsonObject &local,
                                                   const QJsonObject &server,
                                                   const QJsonObject &base);

    QJSValue m_merge;
    QJSValue m_resolveConflict;
};

// The resolve/reject pair handed to a persist function's promise; answers once.
class SynqPersistReply : public QObject
{
    Q_OBJECT

public:
    SynqPersistReply(Synq::SyncEngine::PersistCallback done, QObject *parent)
        : QObject(parent), m_done(std::move(done))
    {
    }

    Q_INVOKABLE void resolve(const QJSValue &value = QJSValue());
    Q_INVOKABLE void reject(const QJSValue &reason = QJSValue());

    // The SyncError a rejection reason stands for: {retryable, message, code, retryAfterMs}
    // objects, Error objects and plain values.
    static Synq::SyncError errorFrom(const QJSValue &reason);

private:
    Synq::SyncEngine::PersistCallback m_done;
};

#endif
