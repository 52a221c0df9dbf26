// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SCHEMA_P_H
#define SYNQ_SCHEMA_P_H

//
//  W A R N I N G
//  -------------
// This file is not part of the Synq API. It may change without notice.
//

#include <synq/syncerror.h>

#include <QtCore/QString>

QT_BEGIN_NAMESPACE
class QSqlQuery;
QT_END_NAMESPACE

/*
    Schema: the tables of a Synq file and the versioned migrations that make them (PRAGMA
    user_version, one migration per version, all of them forward and in one SQL transaction),
    and the checks that keep Synq off files that are not its own. SyncDatabase::open() runs
    inspect() before anything writes to the file and upgrade() once the connection is set up.
*/
namespace Synq::Storage::Schema {

// What a file holds before open() changes anything.
struct Found
{
    qint64 applicationId = 0;
    int userVersion = 0;
    int objects = 0; // entries of sqlite_master: 0 for a new, empty file
};

// Read-only: refuses a file that is damaged, another application's, or from a newer Synq.
SyncError inspect(QSqlQuery &q, const QString &path, Found *found);

// Brings the file from found.userVersion to SyncDatabase::SchemaVersion in one SQL
// transaction (which also proves the file is writable), and stamps its application_id and
// user_version where they change.
SyncError upgrade(QSqlQuery &q, const QString &path, const Found &found);

} // namespace Synq::Storage::Schema

#endif
