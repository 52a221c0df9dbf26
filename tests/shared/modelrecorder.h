// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_TESTS_MODELRECORDER_H
#define SYNQ_TESTS_MODELRECORDER_H

#include <QtCore/QAbstractItemModel>
#include <QtCore/QHash>
#include <QtCore/QSet>
#include <QtCore/QStringList>

#include <utility>

namespace SynqTest {

/*
    Every model signal a view could see, recorded in order as short sentences:
    "inserted 0-2", "removed 1-1", "changed 0-0 done,syncState" (the roles by name, sorted),
    "reset", "layout", "moved". changedRoles collects, per row, every role a dataChanged named
    since the last take().
*/
class ModelRecorder : public QObject
{
public:
    explicit ModelRecorder(QAbstractItemModel *model)
    {
        connect(model, &QAbstractItemModel::rowsInserted, this,
                [this](const QModelIndex &, int first, int last) {
                    events << QStringLiteral("inserted %1-%2").arg(first).arg(last);
                });
        connect(model, &QAbstractItemModel::rowsRemoved, this,
                [this](const QModelIndex &, int first, int last) {
                    events << QStringLiteral("removed %1-%2").arg(first).arg(last);
                });
        connect(model, &QAbstractItemModel::dataChanged, this,
                [this, model](const QModelIndex &tl, const QModelIndex &br,
                              const QList<int> &roles) {
                    QStringList names;
                    const auto roleNames = model->roleNames();
                    for (int role : roles) {
                        const QString name = QString::fromLatin1(
                                roleNames.value(role, QByteArrayLiteral("?")));
                        names << name;
                        for (int row = tl.row(); row <= br.row(); ++row)
                            changedRoles[row].insert(name);
                    }
                    names.sort();
                    events << QStringLiteral("changed %1-%2 %3")
                                      .arg(tl.row())
                                      .arg(br.row())
                                      .arg(names.join(QLatin1Char(',')));
                });
        connect(model, &QAbstractItemModel::modelReset, this,
                [this] { events << QStringLiteral("reset"); });
        connect(model, &QAbstractItemModel::layoutChanged, this,
                [this] { events << QStringLiteral("layout"); });
        connect(model, &QAbstractItemModel::rowsMoved, this,
                [this] { events << QStringLiteral("moved"); });
    }

    // The events so far; the recorder starts afresh.
    QStringList take()
    {
        changedRoles.clear();
        return std::exchange(events, {});
    }
    // The events other than dataChanged: the structure a view sees change.
    QStringList structural() const
    {
        QStringList out;
        for (const QString &e : events) {
            if (!e.startsWith(QLatin1String("changed")))
                out << e;
        }
        return out;
    }

    QStringList events;
    QHash<int, QSet<QString>> changedRoles; // row -> every role named since take()
};

} // namespace SynqTest

#endif
