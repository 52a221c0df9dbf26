// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_PULLAPPLIER_P_H
#define SYNQ_PULLAPPLIER_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/protocol.h>
#include <synq/syncdatabase.h>

#include <QtCore/QObject>

namespace Synq {

/*
    Lives on the engine's apply thread: writes a pulled page and its new cursor to SQLite in
    one transaction through that thread's own connection, so large pulls never cost the GUI
    thread their SQL.
*/
class PullApplier : public QObject
{
    Q_OBJECT

public:
    explicit PullApplier(SyncDatabase *db) : m_db(db) { }

public Q_SLOTS:
    void apply(quint64 serial, const QString &scope, const QString &collection,
               const Synq::Protocol::PullResponse &page);
    void release();

Q_SIGNALS:
    void applied(quint64 serial, const QString &collection,
                 const QList<Synq::SyncDatabase::SyncedWrite> &writes, bool hasMore,
                 const Synq::SyncError &error);

private:
    SyncDatabase *m_db;
};

} // namespace Synq

Q_DECLARE_METATYPE(QList<Synq::SyncDatabase::SyncedWrite>)

#endif
