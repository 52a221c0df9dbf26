// SPDX-License-Identifier: BSD-3-Clause
#include <synq/conflictmodel.h>

#include <QtCore/QPointer>

namespace Synq {

/*!
    \class Synq::ConflictModel
    \inmodule Synq
    \brief The conflicts waiting for the app to resolve them (C6), as a list model.

    A conflict waits for the app when its collection's conflictPolicy is \c Manual, or when a
    \c Custom resolver cannot decide. Each row is one: the local change's record (\c local,
    null for a removal), the server's (\c server, null when the server deleted it) and the
    base record the local change was made on (\c base, null for an insert), with
    \c conflictId, \c transactionId, \c collection, \c key, \c serverVersion and
    \c detectedAt. Until it is resolved, the row of the collection keeps the local change and
    shows \c{syncState: Conflict}, and its transaction is not sent. Conflicts survive a
    restart.

    Resolve one with resolveWithLocal() (the local change is sent again on the server's
    version), resolveWithServer() (the server's state stands; the local change is dropped) or
    resolveWith() (a merged record is sent on the server's version). The row then leaves the
    model.

    \qml
    ListView {
        model: ConflictModel { id: conflicts; engine: appEngine; collection: "notes" }
        delegate: Row {
            Text { text: model.key + ": " + model.local.body + " / " + model.server.body }
            Button { text: "Mine"; onClicked: conflicts.resolveWithLocal(model.conflictId) }
            Button { text: "Theirs"; onClicked: conflicts.resolveWithServer(model.conflictId) }
        }
    }
    \endqml
*/

class ConflictModelPrivate
{
public:
    explicit ConflictModelPrivate(ConflictModel *q) : q(q) { }

    bool accepts(const QVariantMap &c) const
    {
        return collection.isEmpty()
                || c.value(QStringLiteral("collection")).toString() == collection;
    }
    void reload();
    void attach(SyncEngine *next);

    ConflictModel *q;
    QPointer<SyncEngine> engine;
    QString collection;
    QList<QVariantMap> rows;
    QList<QMetaObject::Connection> connections;
};

void ConflictModelPrivate::reload()
{
    const int before = int(rows.size());
    q->beginResetModel();
    rows.clear();
    if (engine) {
        for (const QVariant &c : engine->conflicts()) {
            if (accepts(c.toMap()))
                rows.append(c.toMap());
        }
    }
    q->endResetModel();
    if (before != rows.size())
        Q_EMIT q->countChanged();
}

void ConflictModelPrivate::attach(SyncEngine *next)
{
    for (const QMetaObject::Connection &c : std::as_const(connections))
        QObject::disconnect(c);
    connections.clear();
    engine = next;
    if (engine) {
        connections << QObject::connect(engine, &SyncEngine::conflictsReset, q,
                                        [this] { reload(); });
        connections << QObject::connect(engine, &SyncEngine::conflictAdded, q,
                                        [this](const QVariantMap &c) {
                                            if (!accepts(c))
                                                return;
                                            const int row = int(rows.size());
                                            q->beginInsertRows(QModelIndex(), row, row);
                                            rows.append(c);
                                            q->endInsertRows();
                                            Q_EMIT q->countChanged();
                                        });
        connections << QObject::connect(engine, &SyncEngine::conflictRemoved, q,
                                        [this](const QString &id) {
                                            const int row = q->indexOf(id);
                                            if (row < 0)
                                                return;
                                            q->beginRemoveRows(QModelIndex(), row, row);
                                            rows.removeAt(row);
                                            q->endRemoveRows();
                                            Q_EMIT q->countChanged();
                                        });
        connections << QObject::connect(engine, &QObject::destroyed, q, [this] {
            engine = nullptr;
            reload();
            Q_EMIT q->engineChanged();
        });
    }
    reload();
}

ConflictModel::ConflictModel(QObject *parent)
    : QAbstractListModel(parent), d(std::make_unique<ConflictModelPrivate>(this))
{ }

ConflictModel::ConflictModel(SyncEngine *engine, QObject *parent) : ConflictModel(parent)
{
    setEngine(engine);
}

ConflictModel::~ConflictModel() = default;

/*!
    \property Synq::ConflictModel::engine
    \brief The engine whose conflicts are listed (of its current scope).
*/
SyncEngine *ConflictModel::engine() const
{
    return d->engine;
}

void ConflictModel::setEngine(SyncEngine *engine)
{
    if (d->engine == engine)
        return;
    d->attach(engine);
    Q_EMIT engineChanged();
}

/*!
    \property Synq::ConflictModel::collection
    \brief Lists only the conflicts of this collection; empty (the default) lists all.
*/
QString ConflictModel::collection() const
{
    return d->collection;
}

void ConflictModel::setCollection(const QString &collection)
{
    if (d->collection == collection)
        return;
    d->collection = collection;
    d->reload();
    Q_EMIT collectionChanged();
}

int ConflictModel::count() const
{
    return int(d->rows.size());
}

int ConflictModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : count();
}

QVariant ConflictModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return QVariant();
    const QHash<int, QByteArray> names = roleNames();
    const auto name = names.constFind(role);
    if (name == names.cend())
        return role == Qt::DisplayRole ? d->rows.at(index.row()).value(QStringLiteral("key"))
                                       : QVariant();
    return d->rows.at(index.row()).value(QString::fromLatin1(*name));
}

QHash<int, QByteArray> ConflictModel::roleNames() const
{
    return {
        { ConflictIdRole, "conflictId" },
        { TransactionIdRole, "transactionId" },
        { CollectionRole, "collection" },
        { KeyRole, "key" },
        { LocalRole, "local" },
        { ServerRole, "server" },
        { BaseRole, "base" },
        { ServerVersionRole, "serverVersion" },
        { DetectedAtRole, "detectedAt" },
    };
}

/*!
    Returns the conflict in \a row as a map of its roles (empty for a row out of range).
*/
QVariantMap ConflictModel::get(int row) const
{
    return row >= 0 && row < d->rows.size() ? d->rows.at(row) : QVariantMap();
}

int ConflictModel::indexOf(const QString &conflictId) const
{
    for (int i = 0; i < d->rows.size(); ++i) {
        if (d->rows.at(i).value(QStringLiteral("conflictId")).toString() == conflictId)
            return i;
    }
    return -1;
}

/*!
    Resolves the conflict \a conflictId with the local change: it is sent again on the
    server's version. Returns false (and the engine reports an error) for an unknown id.
*/
bool ConflictModel::resolveWithLocal(const QString &conflictId)
{
    return d->engine && d->engine->resolveConflictWithLocal(conflictId);
}

/*!
    Resolves the conflict \a conflictId with the server's state: the local change is dropped
    and the row shows the server's record (or goes, if the server deleted it).
*/
bool ConflictModel::resolveWithServer(const QString &conflictId)
{
    return d->engine && d->engine->resolveConflictWithServer(conflictId);
}

/*!
    Resolves the conflict \a conflictId with \a merged, a record (a JavaScript object or a
    QVariantMap) sent on the server's version; the row keeps its key.
*/
bool ConflictModel::resolveWith(const QString &conflictId, const QVariant &merged)
{
    return d->engine && d->engine->resolveConflictWith(conflictId, merged);
}

} // namespace Synq
