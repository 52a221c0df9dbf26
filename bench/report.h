// SPDX-License-Identifier: BSD-3-Clause
#ifndef SYNQBENCH_REPORT_H
#define SYNQBENCH_REPORT_H

#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QString>

#include <optional>

namespace SynqBench {

/*
    One measured figure, printed as one JSON object on one line of stdout:

        {"name":"insert_many","value":41000,"unit":"rows/s","limit":98000,"ratio":2.39,
         "target":2,"target_on":"ratio","pass":false, ...extra fields}

    ratio always reads the same way: Synq's cost divided by the limit's cost, so 1.0 is "as
    fast as raw SQLite" and higher is slower. For a time that is value / limit; for a rate
    (rows/s) it is limit / value. target applies to ratio or to value (target_on), and is
    always an upper bound: pass = (ratio or value) <= target. Figures without a target carry
    target null and pass null.
*/
struct Figure
{
    enum Kind { Cost, Rate }; // a time/size (lower is better) or a rate (higher is better)

    QString name;
    double value = 0;
    QString unit;
    Kind kind = Cost;
    std::optional<double> limit;
    std::optional<double> target;
    bool targetOnRatio = true;
    QJsonObject extra; // printed after the standard fields

    std::optional<double> ratio() const;
    std::optional<bool> pass() const;
    QByteArray toJsonLine() const;
};

// Prints the figure on stdout at once (flushed) and keeps it for the summary on stderr.
void emitFigure(const Figure &figure);
// One line per figure on stderr: name, value, limit, ratio, target, pass.
void printSummary();

double median(QList<double> samples);
double percentile(QList<double> samples, double p);

// Progress and diagnostics go to stderr; stdout carries only figure lines.
void note(const QString &text);

} // namespace SynqBench

#endif
