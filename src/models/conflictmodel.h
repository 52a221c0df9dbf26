// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_CONFLICTMODEL_H
#define SYNQ_CONFLICTMODEL_H

#include <synq/syncengine.h>
#include <synq/synq_export.h>

#include <QtCore/QAbstractListModel>
#include <QtCore/QVariantMap>

#include <memory>

namespace Synq {

class ConflictModelPrivate;

class SYNQ_EXPORT ConflictModel : public QAbstractListModel
{
    Q_OBJECT
    Q_PROPERTY(Synq::SyncEngine *engine READ engine WRITE setEngine NOTIFY engineChanged FINAL)
    Q_PROPERTY(
            QString collection READ collection WRITE setCollection NOTIFY collectionChanged FINAL)
    Q_PROPERTY(int count READ count NOTIFY countChanged FINAL)

public:
    enum Roles {
        ConflictIdRole = Qt::UserRole + 1,
        TransactionIdRole,
        CollectionRole,
        KeyRole,
        LocalRole,
        ServerRole,
        BaseRole,
        ServerVersionRole,
        DetectedAtRole,
    };
    Q_ENUM(Roles)

    explicit ConflictModel(QObject *parent = nullptr);
    explicit ConflictModel(SyncEngine *engine, QObject *parent = nullptr);
    ~ConflictModel() override;

    SyncEngine *engine() const;
    void setEngine(SyncEngine *engine);
    QString collection() const;
    void setCollection(const QString &collection);
    int count() const;

    // QAbstractItemModel
    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    Q_INVOKABLE QVariantMap get(int row) const;
    Q_INVOKABLE int indexOf(const QString &conflictId) const;

    // Resolutions (SyncEngine::resolveConflictWith…): the row leaves the model.
    Q_INVOKABLE bool resolveWithLocal(const QString &conflictId);
    Q_INVOKABLE bool resolveWithServer(const QString &conflictId);
    Q_INVOKABLE bool resolveWith(const QString &conflictId, const QVariant &merged);

Q_SIGNALS:
    void engineChanged();
    void collectionChanged();
    void countChanged();

private:
    friend class ConflictModelPrivate;
    std::unique_ptr<ConflictModelPrivate> d;
};

} // namespace Synq

#endif
