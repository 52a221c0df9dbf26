// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQ_SERVEROPTIONS_H
#define SYNQ_SERVEROPTIONS_H

#include <QtCore/QHash>
#include <QtCore/QSet>
#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtNetwork/QHostAddress>

namespace Synq {
namespace Server {

// Where the data lives: "sqlite:PATH" or "postgres://user[:password]@host[:port]/dbname".
struct DatabaseConfig
{
    enum Driver { Sqlite, Postgres };
    Driver driver = Sqlite;
    QString path; // SQLite file
    QString host; // PostgreSQL
    int port = 5432;
    QString user;
    QString password;
    QString name;
    QString schema; // "?schema=NAME": tables live in that schema, created if missing
    QString connectOptions; // other query items, handed to libpq ("sslmode=require")

    // For logs and messages: never the password.
    QString describe() const;
};

struct ServerOptions
{
    QHostAddress address = QHostAddress(QHostAddress::LocalHost);
    quint16 port = 8080;
    DatabaseConfig database;
    bool requireTokens = false; // --tokens given: every request but health needs a known token
    QHash<QString, QString> tokens; // token -> user id
    QSet<QString> serverAssignedKeys; // collections whose insert keys the server chooses
    qint64 tombstoneHorizonSeconds = 30 * 24 * 3600;
};

enum class ParseResult { Ok, Error, Help, Version };

// Parses synq-server's command line (arguments[0] is the program). On Error, *message is
// a one-paragraph explanation for stderr; on Help and Version the text for stdout.
ParseResult parseOptions(const QStringList &arguments, ServerOptions *options, QString *message);

// The pieces, for tests and for the messages above.
bool parseListen(const QString &text, QHostAddress *address, quint16 *port, QString *error);
bool parseDatabase(const QString &text, DatabaseConfig *config, QString *error);
bool loadTokens(const QString &path, QHash<QString, QString> *tokens, QString *error);

} // namespace Server
} // namespace Synq

#endif
