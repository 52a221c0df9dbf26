// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TRANSACTIONMODEL_H
#define SYNQ_TRANSACTIONMODEL_H

#include <synq/syncengine.h>
#include <synq/synq_export.h>
#include <synq/transaction.h>

#include <QtCore/QAbstractListModel>
#include <QtCore/QVariantList>
#include <QtCore/QVariantMap>

#include <memory>

namespace Synq {

class TransactionModelPrivate;

class SYNQ_EXPORT TransactionModel : public QAbstractListModel
{
    Q_OBJECT
    Q_PROPERTY(Synq::SyncEngine *engine READ engine WRITE setEngine NOTIFY engineChanged FINAL)
    Q_PROPERTY(QString collection READ collection WRITE setCollection NOTIFY collectionChanged
                       FINAL)
    Q_PROPERTY(QVariantList states READ states WRITE setStates NOTIFY statesChanged FINAL)
    Q_PROPERTY(int count READ count NOTIFY countChanged FINAL)

public:
    enum Roles {
        TransactionIdRole = Qt::UserRole + 1,
        StateRole,
        StateNameRole,
        StrategyRole,
        CreatedAtRole,
        UpdatedAtRole,
        MutationCountRole,
        AttemptCountRole,
        CurrentAttemptRole,
        NextRetryAtRole,
        QueuedBehindRole,
        ErrorCodeRole,
        ErrorMessageRole,
        FailedBecauseOfRole,
        CollectionsRole,
        KeysRole,
    };
    Q_ENUM(Roles)

    explicit TransactionModel(QObject *parent = nullptr);
    explicit TransactionModel(SyncEngine *engine, QObject *parent = nullptr);
    ~TransactionModel() override;

    SyncEngine *engine() const;
    void setEngine(SyncEngine *engine);
    QString collection() const;
    void setCollection(const QString &collection);
    QVariantList states() const;
    void setStates(const QVariantList &states);

    int count() const;

    // QAbstractItemModel
    int rowCount(const QModelIndex &parent = QModelIndex()) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    Q_INVOKABLE QVariantMap get(int row) const;
    // The engine owns the transaction.
    Q_INVOKABLE Synq::Transaction *transactionAt(int row) const;
    Q_INVOKABLE int indexOf(const QString &transactionId) const;

Q_SIGNALS:
    void engineChanged();
    void collectionChanged();
    void statesChanged();
    void countChanged();

private:
    friend class TransactionModelPrivate;
    std::unique_ptr<TransactionModelPrivate> d;
};

} // namespace Synq

#endif
